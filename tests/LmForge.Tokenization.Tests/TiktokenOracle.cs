using System.Diagnostics;
using System.Text.Json;
using LmForge.Tests.Shared;
using LmForge.Tokenization;

namespace LmForge.Tokenization.Tests;

// Runs tests/oracles/tiktoken-oracle.mjs once per test run: tiktoken (npm) writes its rank files, the corpus and
// adversarial cases, and its own ids for them into a temporary folder; the tests compare ours with those ids.
internal static class TiktokenOracle
{
    public static readonly string[] Encodings = ["gpt2", "cl100k_base", "o200k_base"];

    private static readonly Lazy<string> OutputDirectory = new(Generate);
    private static readonly Dictionary<string, BpeTokenizer> Tokenizers = [];

    public static string OraclesDirectory { get; } = FindOraclesDirectory();

    /// <summary>What is missing for the oracle to run here, and how to install it (Missing is null when it can run).</summary>
    private static readonly (string? Missing, string HowToInstall) Availability = FindMissing();

    /// <summary>For the attributes below: skip locally, run (and fail in <see cref="Require"/>) under CI.</summary>
    public static string? SkipReason => Oracle.SkipReason(Availability.Missing is null, Availability.Missing ?? "", Availability.HowToInstall);

    /// <summary>Fails the test, naming what is missing and what installs it, when the oracle cannot run (see <see cref="Oracle"/>).</summary>
    public static void Require() => Oracle.Require(Availability.Missing is null, Availability.Missing ?? "", Availability.HowToInstall);

    public static string Directory
    {
        get
        {
            Require();
            return OutputDirectory.Value;
        }
    }

    public static BpeTokenizer Tokenizer(string encoding)
    {
        lock (Tokenizers)
        {
            if (!Tokenizers.TryGetValue(encoding, out var tokenizer))
            {
                string ranks = Path.Combine(Directory, encoding + ".tiktoken");
                tokenizer = encoding switch
                {
                    "gpt2" => BpeTokenizer.Gpt2(ranks),
                    "cl100k_base" => BpeTokenizer.Cl100k(ranks),
                    "o200k_base" => BpeTokenizer.O200k(ranks),
                    _ => throw new ArgumentException(encoding),
                };
                Tokenizers[encoding] = tokenizer;
            }
            return tokenizer;
        }
    }

    public static IReadOnlyList<string> Sets()
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "manifest.json")));
        return [.. manifest.RootElement.GetProperty("sets").EnumerateArray().Select(s => s.GetProperty("set").GetString()!)];
    }

    public static List<string> ReadCases(string set)
    {
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(Directory, set + ".cases")));
        var cases = new List<string>();
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            int length = reader.ReadInt32();
            var chars = new char[length];
            for (int i = 0; i < length; i++) chars[i] = (char)reader.ReadUInt16();
            cases.Add(new string(chars));
        }
        return cases;
    }

    public static List<int[]> ReadIds(string set, string encoding, string mode)
    {
        using var reader = new BinaryReader(File.OpenRead(Path.Combine(Directory, $"{set}.{encoding}.{mode}.ids")));
        var lists = new List<int[]>();
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            var ids = new int[reader.ReadInt32()];
            for (int i = 0; i < ids.Length; i++) ids[i] = reader.ReadInt32();
            lists.Add(ids);
        }
        return lists;
    }

    private static string FindOraclesDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "oracles");
            if (File.Exists(Path.Combine(candidate, "tiktoken-oracle.mjs"))) return candidate;
        }
        return "";
    }

    private static (string?, string) FindMissing()
    {
        if (OraclesDirectory.Length == 0)
            return ("tests/oracles/tiktoken-oracle.mjs (not found above the test binaries)", "run the tests from a checkout of the repository");
        if (!System.IO.Directory.Exists(Path.Combine(OraclesDirectory, "node_modules", "tiktoken")))
            return ("the tiktoken oracle (tests/oracles/node_modules/tiktoken)", "run `npm ci` in tests/oracles (test.sh does)");
        const string installNode = "tests/setup/tokenizer.sh installs Node.js (test.sh runs it)";
        try
        {
            using var node = Process.Start(new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false });
            node!.WaitForExit();
            return node.ExitCode == 0 ? (null, "") : ("a working node (`node --version` failed)", installNode);
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return ("node (Node.js), which runs the tiktoken oracle", installNode);
        }
    }

    private static string Generate()
    {
        string output = Path.Combine(Path.GetTempPath(), $"lmforge-tiktoken-oracle-{Environment.ProcessId}");
        RunNode(OraclesDirectory, "tiktoken-oracle.mjs", "oracle", output);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try { System.IO.Directory.Delete(output, recursive: true); } catch (IOException) { }
        };
        return output;
    }

    public static void RunNode(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        string errors = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"node {string.Join(' ', arguments)} failed ({process.ExitCode}): {errors}");
    }
}

/// <summary>A fact that needs the tiktoken oracle; skipped, saying why, only when node or the npm
/// packages are absent and not under CI=true (then it fails, see <see cref="Oracle"/>).</summary>
public sealed class TiktokenFactAttribute : FactAttribute
{
    public TiktokenFactAttribute()
    {
        Skip = TiktokenOracle.SkipReason;
    }
}

/// <summary>A theory that needs the tiktoken oracle (see <see cref="TiktokenFactAttribute"/>).</summary>
public sealed class TiktokenTheoryAttribute : TheoryAttribute
{
    public TiktokenTheoryAttribute()
    {
        Skip = TiktokenOracle.SkipReason;
    }
}
