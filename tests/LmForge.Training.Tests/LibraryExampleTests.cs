using System.Diagnostics;

namespace LmForge.Training.Tests;

/// <summary>The README's library example is examples/Library/Program.cs, which the solution builds: the page shows that file and it runs.</summary>
public class LibraryExampleTests
{
    [Fact]
    public void Readme_shows_the_example_program()
    {
        string root = TestFiles.RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        const string fence = "```csharp\n";
        int start = readme.IndexOf(fence + "using LmForge.Inference;", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no C# block starting with the example's first line");
        int end = readme.IndexOf("```\n", start + fence.Length, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(Path.Combine(root, "examples", "Library", "Program.cs")), readme[(start + fence.Length)..end]);
    }

    [Fact]
    public async Task Example_program_runs_trains_and_saves_a_loadable_model()
    {
        string program = TestFiles.BuiltProgram(Path.Combine("examples", "Library"), "Library.dll");
        string directory = TestFiles.TemporaryDirectory("library-example");
        var start = new ProcessStartInfo("dotnet", [program]) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        string output = await process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await errors}");
        Assert.Contains("round trip: True", output);
        var losses = output.Split('\n').Where(l => l.StartsWith("step ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.IndexOf("loss ", StringComparison.Ordinal) + 5)..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(5, losses.Count);
        Assert.True(losses[^1] < losses[0] - 1, $"losses {string.Join(", ", losses)}");
        Assert.True(File.Exists(Path.Combine(directory, "my-model", "config.json")));
        Assert.Contains("KV cache ", output); // the generation part ran to the end
    }
}
