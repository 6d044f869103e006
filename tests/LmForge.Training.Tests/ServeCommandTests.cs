using System.Diagnostics;
using System.Globalization;
using LmForge.Tests.Shared;

namespace LmForge.Training.Tests;

/// <summary>`lmforge serve` as a user starts it: it says where it listens, answers, refuses a taken port or a missing
/// checkpoint in one line, and stops on Ctrl+C (SIGINT).</summary>
public class ServeCommandTests
{
    static ProcessStartInfo Serve(params string[] arguments) =>
        new("dotnet", [TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"), "serve", .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };

    [Fact]
    public async Task Serves_refuses_a_taken_port_and_stops_on_ctrl_c()
    {
        string checkpoint = ChatCheckpoint.Create(TestFiles.TemporaryDirectory("serve-checkpoint"), context: 256);
        using var server = Process.Start(Serve("--checkpoint", checkpoint, "--port", "0"))!;
        var errors = server.StandardError.ReadToEndAsync();
        Uri? address = null;
        while (await server.StandardOutput.ReadLineAsync() is { } line)
        {
            const string marker = "chat page: ";
            if (line.Contains(marker, StringComparison.Ordinal)) address = new Uri(line[(line.IndexOf(marker, StringComparison.Ordinal) + marker.Length)..].Trim());
            if (line.StartsWith("Ctrl+C", StringComparison.Ordinal)) break;
        }
        Assert.True(address is not null, $"no address printed; errors: {(server.HasExited ? await errors : "")}");
        using (var client = new HttpClient { BaseAddress = address })
        {
            Assert.Contains("\"status\":\"ok\"", await client.GetStringAsync("/health"));
        }

        using (var second = Process.Start(Serve("--checkpoint", checkpoint, "--port", address.Port.ToString(CultureInfo.InvariantCulture)))!)
        {
            string secondErrors = await second.StandardError.ReadToEndAsync();
            await second.WaitForExitAsync();
            Assert.Equal(1, second.ExitCode);
            Assert.Equal($"error: cannot listen on 127.0.0.1:{address.Port}: the port is taken (is another server running there? choose another with --port)", secondErrors.Trim());
        }

        using (var signal = Process.Start("kill", ["-INT", server.Id.ToString(CultureInfo.InvariantCulture)])) await signal.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await server.WaitForExitAsync(timeout.Token);
        Assert.Equal(0, server.ExitCode);
        Assert.Contains("Stopping.", await server.StandardOutput.ReadToEndAsync());
    }

    [Fact]
    public async Task A_missing_checkpoint_is_one_line()
    {
        using var process = Process.Start(Serve("--checkpoint", "/nonexistent/run"))!;
        string errors = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(1, process.ExitCode);
        Assert.Equal("error: /nonexistent/run: no such checkpoint or run directory", errors.Trim());
    }
}
