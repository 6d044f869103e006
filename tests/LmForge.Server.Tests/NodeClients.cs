using System.Diagnostics;
using System.Text.Json;

namespace LmForge.Server.Tests;

/// <summary>
/// Runs a client script of tests/oracles (the official OpenAI client, the browser driver) with node against a running
/// server. A missing node, package or browser fails the test with the command that installs it: in CI these checks
/// must run, never skip.
/// </summary>
static class NodeClients
{
    public static string OraclesDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            string candidate = Path.Combine(directory.FullName, "tests", "oracles");
            if (File.Exists(Path.Combine(candidate, "package.json"))) return candidate;
        }
        throw new InvalidOperationException($"no tests/oracles above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs the script and returns the JSON line it prints last.</summary>
    public static async Task<JsonElement> RunAsync(string script, TimeSpan limit, params string[] arguments)
    {
        string oracles = OraclesDirectory();
        Assert.True(Directory.Exists(Path.Combine(oracles, "node_modules")),
            $"{oracles}/node_modules is missing: run `npm ci` there (./test.sh does)");
        var start = new ProcessStartInfo("node") { WorkingDirectory = oracles, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(script);
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("node (Node.js) is not installed: tests/setup/tokenizer.sh installs it");
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(limit);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"node {script} ran past {limit.TotalSeconds} s; stderr: {await errors}");
            }
            Assert.True(process.ExitCode == 0, $"node {script} failed ({process.ExitCode}): {await errors}\n{await output}");
            string last = (await output).Trim().Split('\n')[^1];
            return JsonDocument.Parse(last).RootElement.Clone();
        }
    }
}
