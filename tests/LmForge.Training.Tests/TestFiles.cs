using System.Buffers.Binary;

namespace LmForge.Training.Tests;

/// <summary>Temporary directories and llm.c-format shards written byte by byte from the format's description.</summary>
static class TestFiles
{
    public static string TemporaryDirectory(string name) => Directory.CreateTempSubdirectory("lmforge-" + name + "-").FullName;

    public static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory != null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "LmForge.slnx"))) return directory.FullName;
        }
        throw new InvalidOperationException($"no LmForge.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>A program the solution builds (e.g. "src/LmForge.Cli", "lmforge.dll"), in the configuration these tests were built in.</summary>
    public static string BuiltProgram(string projectDirectory, string assembly)
    {
        string configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        string path = Path.Combine(RepositoryRoot(), projectDirectory, "bin", configuration, "net10.0", assembly);
        Assert.True(File.Exists(path), $"{path} is missing: build the solution first");
        return path;
    }

    /// <summary>Runs the built `lmforge` with arguments and waits (at most 5 minutes): its exit code, output and errors.</summary>
    public static (int ExitCode, string Output, string Errors) RunTool(params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("dotnet", [BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll"), .. arguments])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        string errors = process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(5)), $"lmforge {string.Join(' ', arguments)} did not finish in 5 minutes");
        return (process.ExitCode, output.GetAwaiter().GetResult(), errors);
    }

    /// <summary>
    /// A cache directory laid out as KnowledgeSources leaves it, filled with the data tests' excerpts of the real
    /// knowledge-base packages, so the knowledge commands and the main job need no network.
    /// </summary>
    public static string KnowledgeCache(string cache)
    {
        string fixtures = Path.Combine(RepositoryRoot(), "tests", "LmForge.Data.Tests", "Knowledge", "Fixtures");
        string countries = Directory.CreateDirectory(Path.Combine(cache, "knowledge", LmForge.Data.Knowledge.CountriesList.Source)).FullName;
        foreach (string file in LmForge.Data.Knowledge.CountriesList.Files) File.Copy(Path.Combine(fixtures, "countries-list", file), Path.Combine(countries, file));
        File.Copy(Path.Combine(fixtures, "data.noun"), Path.Combine(Directory.CreateDirectory(Path.Combine(cache, "knowledge", LmForge.Data.Knowledge.WordNetPeople.Source)).FullName, "data.noun"));
        File.Copy(Path.Combine(fixtures, "elements.json"), Path.Combine(Directory.CreateDirectory(Path.Combine(cache, "knowledge", LmForge.Data.Knowledge.PeriodicTable.Source)).FullName, LmForge.Data.Knowledge.PeriodicTable.DataFile));
        return cache;
    }

    /// <summary>
    /// A small corpus for training tests: a byte-level BPE of <paramref name="vocabSize"/> tokens trained on
    /// <paramref name="text"/> with &lt;|endoftext|&gt; and <paramref name="specials"/>, saved as the directory's
    /// tokenizer.json, and the text's tokens split into a training and a validation shard (the last
    /// 1 − <paramref name="trainFraction"/> held out).
    /// </summary>
    public static (string Tokenizer, string Train, string Validation, int Vocabulary) Corpus(string directory, string text, int vocabSize,
        IReadOnlyList<string>? specials = null, double trainFraction = 0.9)
    {
        var trained = new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions
        {
            VocabSize = vocabSize, Threads = 1, SpecialTokens = [LmForge.Tokenization.Training.BpeTrainerOptions.EndOfText, .. specials ?? []],
        }).TrainOnTexts([text]);
        string tokenizer = LmForge.Training.Checkpoints.CheckpointTokenizer.Save(trained, directory);
        var bpe = trained.ToTokenizer();
        int[] tokens = bpe.EncodeOrdinary(text);
        int split = (int)(tokens.Length * trainFraction);
        return (tokenizer, WriteShard(Path.Combine(directory, "train_000000.bin"), tokens[..split]),
            WriteShard(Path.Combine(directory, "val_000000.bin"), tokens[split..]), bpe.VocabularySize);
    }

    /// <summary>Header: 256 int32 (magic, version, count, zeros), then uint16 (magic 20240520, version 1) or uint32 (20240801, 7) tokens.</summary>
    public static string WriteShard(string path, IReadOnlyList<int> tokens, bool wide = false)
    {
        int width = wide ? 4 : 2;
        var bytes = new byte[1024 + tokens.Count * width];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, wide ? 20240801 : 20240520);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), wide ? 7 : 1);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            if (wide) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(1024 + 4 * i), (uint)tokens[i]);
            else BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(1024 + 2 * i), (ushort)tokens[i]);
        }
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
