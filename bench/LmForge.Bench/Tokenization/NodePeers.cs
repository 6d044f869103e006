using System.Diagnostics;

namespace LmForge.Bench.Tokenization;

/// <summary>Runs the Node peer scripts in bench/LmForge.Bench/Tokenization/peers (npm install --prefix that folder first).</summary>
internal static class NodePeers
{
    public static string? Directory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string peers = Path.Combine(dir.FullName, "bench", "LmForge.Bench", "Tokenization", "peers");
            if (System.IO.Directory.Exists(Path.Combine(peers, "node_modules", "tokenizers")))
                return peers;
        }
        return null;
    }

    /// <summary>Runs <c>node script args</c> and returns its standard output, or null (with a note) when it fails.</summary>
    public static string? Run(string peers, string script, params string[] args)
    {
        var start = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = peers };
        start.ArgumentList.Add(Path.Combine(peers, script));
        foreach (var arg in args)
            start.ArgumentList.Add(arg);
        try
        {
            using var process = Process.Start(start)!;
            var stderr = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode == 0)
                return output;
            Console.WriteLine($"peer {script} failed ({process.ExitCode}): {stderr.Result.Trim()}");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.WriteLine($"peer {script} not run: {e.Message}");
        }
        return null;
    }

    /// <summary>The number after <paramref name="key"/> on the line starting with <paramref name="prefix"/>.</summary>
    public static double Field(string output, string prefix, string key)
    {
        var line = output.Split('\n').First(l => l.StartsWith(prefix, StringComparison.Ordinal));
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return double.Parse(parts[Array.IndexOf(parts, key) + 1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
