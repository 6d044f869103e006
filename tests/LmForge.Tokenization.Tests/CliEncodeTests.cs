using System.Diagnostics;
using LmForge.Tokenization.Tests.Training;

namespace LmForge.Tokenization.Tests;

/// <summary>`lmforge tokenizer encode` run as a user runs it, on text holding a special token's text.</summary>
public class CliEncodeTests
{
    internal static (int ExitCode, string Stdout, string Stderr) Lmforge(params string[] arguments)
    {
        // tests/LmForge.Tokenization.Tests/bin/<Configuration>/<tfm>/ -> src/LmForge.Cli/bin/<Configuration>/<tfm>/lmforge.dll
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
        string root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(root, "src", "LmForge.Cli", "bin", output.Parent.Name, output.Name, "lmforge.dll");
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(dll);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout, stderr.Result);
    }

    const string Text = "end<|endoftext|>";

    [Fact]
    public void Encode_SpecialTokenText_FailsWithOneLineNamingTheFlags()
    {
        var (code, stdout, stderr) = Lmforge("tokenizer", "encode", "--tokenizer", FixtureTokenizer.HfFixture("trained.tokenizer.json"), Text);
        Assert.Equal(1, code);
        Assert.Empty(stdout);
        Assert.Equal("error: the text contains the special token <|endoftext|> at char offset 3: " +
            "pass --allow-special to encode it as that special token, or --plain to encode it as ordinary text", stderr.TrimEnd('\n'));
    }

    [Fact]
    public void Encode_Plain_And_AllowSpecial_MatchTheLibraryCalls()
    {
        var tokenizer = HuggingFaceTokenizerFile.Load(FixtureTokenizer.HfFixture("trained.tokenizer.json"));
        string path = FixtureTokenizer.HfFixture("trained.tokenizer.json");
        var plain = Lmforge("tokenizer", "encode", "--tokenizer", path, "--plain", Text);
        Assert.Equal(0, plain.ExitCode);
        Assert.Equal(string.Join(' ', tokenizer.EncodeOrdinary(Text)), plain.Stdout.TrimEnd('\n'));
        var special = Lmforge("tokenizer", "encode", "--tokenizer", path, "--allow-special", Text);
        Assert.Equal(0, special.ExitCode);
        Assert.Equal(string.Join(' ', tokenizer.Encode(Text, SpecialTokenSet.All)), special.Stdout.TrimEnd('\n'));
        Assert.NotEqual(plain.Stdout, special.Stdout);
    }

    [Fact]
    public void Encode_File_KeepsTheByteOrderMark()
    {
        // tiktoken encodes a file's exact text: a leading byte-order mark is U+FEFF, part of the first token.
        string directory = Directory.CreateTempSubdirectory("lmforge-cli-encode-").FullName;
        try
        {
            string path = Path.Combine(directory, "bom.txt");
            File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "hello world"u8]);
            string tokenizerPath = FixtureTokenizer.HfFixture("trained.tokenizer.json");
            var tokenizer = HuggingFaceTokenizerFile.Load(tokenizerPath);
            var (code, stdout, _) = Lmforge("tokenizer", "encode", "--tokenizer", tokenizerPath, "--file", path);
            Assert.Equal(0, code);
            Assert.Equal(string.Join(' ', tokenizer.Encode("\uFEFFhello world")), stdout.TrimEnd('\n'));
            Assert.NotEqual(string.Join(' ', tokenizer.Encode("hello world")), stdout.TrimEnd('\n'));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
