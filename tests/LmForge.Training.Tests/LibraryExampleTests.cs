using System.Diagnostics;

namespace LmForge.Training.Tests;

/// <summary>The README's library example is examples/Library/Program.cs, which the solution builds: the page shows that file and it runs.</summary>
public class LibraryExampleTests
{
    static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no LmForge.slnx above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void Readme_shows_the_example_program()
    {
        string root = RepositoryRoot();
        string readme = File.ReadAllText(Path.Combine(root, "README.md"));
        const string fence = "```csharp\n";
        int start = readme.IndexOf(fence + "using LmForge.Models.Checkpoints;", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no C# block starting with the example's first line");
        int end = readme.IndexOf("```\n", start + fence.Length, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllText(Path.Combine(root, "examples", "Library", "Program.cs")), readme[(start + fence.Length)..end]);
    }

    [Fact]
    public async Task Example_program_runs_trains_and_saves_a_loadable_model()
    {
        string root = RepositoryRoot();
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        string program = Path.Combine(root, "examples", "Library", "bin", configuration, "net10.0", "Library.dll");
        Assert.True(File.Exists(program), $"{program} is missing: build the solution first");
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
    }
}
