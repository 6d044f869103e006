using System.Globalization;
using System.Numerics.Tensors;
using System.Text;
using LmForge.Data.Dedup;

namespace LmForge.Data.LanguageId;

/// <summary>Settings of language-id training; the defaults build the committed model.</summary>
public sealed record LanguageIdTrainingOptions
{
    /// <summary>log2 of the number of hash buckets (rows of the weight matrix).</summary>
    public int BucketBits { get; init; } = 16;
    public int Epochs { get; init; } = 6;
    /// <summary>Step size as a fraction of the way to the target per example (normalized LMS), decayed linearly to 0.</summary>
    public float LearningRate { get; init; } = 0.5f;
    /// <summary>Share of documents held out for testing, chosen by a hash of the file name, so a page translated into
    /// several languages is on the same side of the split in all of them.</summary>
    public double TestFraction { get; init; } = 0.2;
    /// <summary>Training and test examples are pieces of about this many characters, cut at whitespace.</summary>
    public int ChunkCharacters { get; init; } = 300;
    public int MaxTrainChunksPerLanguage { get; init; } = 3000;
    public int MaxTestChunksPerLanguage { get; init; } = 400;
    public int Seed { get; init; } = 20230828;
    /// <summary>When set (e.g. "en"), a document of another language that has a same-named document in this language
    /// (its original) loses every line found verbatim in the original: untranslated option lists, commands and code,
    /// which would otherwise teach the model that the original's language is the translation's.</summary>
    public string? ReferenceLanguage { get; init; }
    /// <summary>Words typical of the reference language (e.g. "the", "and", "that"): a line of another language holding
    /// two or more of them is dropped too, as untranslated text whose original is not in the corpus.</summary>
    public IReadOnlyList<string> ReferenceMarkers { get; init; } = [];
}

/// <summary>Held-out accuracy of one language: on text pieces of ChunkCharacters and on whole test documents.</summary>
public sealed record LanguageAccuracy(string Language, int TrainDocuments, int TestDocuments, int TestChunks, double ChunkAccuracy, double DocumentAccuracy);

public sealed record LanguageIdTrainingResult(LanguageIdModel Model, IReadOnlyList<LanguageAccuracy> Accuracy, int ChunkCharacters)
{
    public string ToMarkdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| language | train docs | test docs | test pieces | accuracy on {ChunkCharacters}-char pieces | accuracy on documents |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var a in Accuracy)
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {a.Language} | {a.TrainDocuments} | {a.TestDocuments} | {a.TestChunks} | {a.ChunkAccuracy:P1} | {a.DocumentAccuracy:P1} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| **mean** | {Accuracy.Sum(a => a.TrainDocuments)} | {Accuracy.Sum(a => a.TestDocuments)} | {Accuracy.Sum(a => a.TestChunks)} | {Accuracy.Average(a => a.ChunkAccuracy):P1} | {Accuracy.Average(a => a.DocumentAccuracy):P1} |");
        return sb.ToString();
    }
}

/// <summary>
/// Trains a LanguageIdModel from a directory holding one subdirectory per language (named by its code, e.g. "de")
/// of UTF-8 .txt documents: documents are split into train and test by file name, cut into pieces, and a softmax
/// linear model over the averaged hashed n-gram features is fitted by SGD; then held-out accuracy is measured.
/// </summary>
public static class LanguageIdTrainer
{
    private readonly record struct Piece(int Language, int Document, int Start, int Length);

    public static LanguageIdTrainingResult Train(string inputDirectory, LanguageIdTrainingOptions? options = null, IProgress<double>? progress = null)
    {
        options ??= new LanguageIdTrainingOptions();
        if (options.BucketBits is < 8 or > 24) throw new ArgumentException($"bucket bits must be in 8..24, got {options.BucketBits}");
        if (!Directory.Exists(inputDirectory)) throw new DirectoryNotFoundException($"{inputDirectory}: training directory not found");
        var languageDirectories = Directory.GetDirectories(inputDirectory).Order(StringComparer.Ordinal).ToArray();
        foreach (var directory in languageDirectories)
        {
            var name = Path.GetFileName(directory);
            if (name.Length is < 2 or > 12 || !name.All(c => c is (>= 'a' and <= 'z') or '-' or '_'))
                throw new InvalidDataException($"{directory}: a language directory must be named by a lower-case code such as 'en' or 'pt-br', got '{name}'");
        }
        if (languageDirectories.Length < 2) throw new InvalidDataException($"{inputDirectory}: needs at least 2 language subdirectories of .txt files, found {languageDirectories.Length}");
        var languages = languageDirectories.Select(d => Path.GetFileName(d)).ToArray();

        Dictionary<string, HashSet<string>>? originals = null;
        int referenceIndex = -1;
        if (options.ReferenceLanguage is { } reference)
        {
            referenceIndex = Array.IndexOf(languages, reference);
            if (referenceIndex < 0) throw new InvalidDataException($"{inputDirectory}: reference language '{reference}' has no subdirectory");
            originals = [];
            foreach (var file in Directory.GetFiles(languageDirectories[referenceIndex], "*.txt"))
                originals[Path.GetFileName(file)] = [.. File.ReadAllLines(file).Select(l => l.Trim()).Where(l => l.Length > 0)];
        }
        var markers = options.ReferenceMarkers.Count == 0 ? null : new HashSet<string>(options.ReferenceMarkers, StringComparer.OrdinalIgnoreCase);
        var trainText = new List<string>[languages.Length];
        var testText = new List<string>[languages.Length];
        for (int l = 0; l < languages.Length; l++)
        {
            trainText[l] = [];
            testText[l] = [];
            var files = Directory.GetFiles(languageDirectories[l], "*.txt").Order(StringComparer.Ordinal).ToArray();
            foreach (var file in files)
            {
                bool test = StableHash.Hash64(Path.GetFileName(file)) % 1000 < (ulong)(options.TestFraction * 1000);
                (test ? testText[l] : trainText[l]).Add(l == referenceIndex ? File.ReadAllText(file) : ReadDocument(file, originals, markers));
            }
            // A language with few documents still needs both sides.
            if (testText[l].Count == 0 && trainText[l].Count > 1) { testText[l].Add(trainText[l][^1]); trainText[l].RemoveAt(trainText[l].Count - 1); }
            if (trainText[l].Count == 0 || testText[l].Count == 0)
                throw new InvalidDataException($"{languageDirectories[l]}: needs at least 2 .txt documents (one to train, one to test), found {files.Length}");
        }

        var random = new Random(options.Seed);
        var trainPieces = new List<Piece>();
        var testPieces = new List<Piece>();
        for (int l = 0; l < languages.Length; l++)
        {
            trainPieces.AddRange(Sample(Cut(trainText[l], l, options.ChunkCharacters), options.MaxTrainChunksPerLanguage, random));
            testPieces.AddRange(Sample(Cut(testText[l], l, options.ChunkCharacters), options.MaxTestChunksPerLanguage, random));
        }

        int stride = (languages.Length + 7) / 8 * 8;
        var weights = new float[(1 << options.BucketBits) * stride];
        var bias = new float[stride];
        Fit(trainPieces, trainText, weights, bias, languages.Length, stride, options, random, progress);

        var fullModel = new LanguageIdModel(options.BucketBits, languages, weights, bias[..languages.Length]);
        // Measure the model as it is saved (8-bit weights), not the float one.
        string temporary = Path.Combine(Path.GetTempPath(), $"lmforge-langid-{Environment.ProcessId}-{Guid.NewGuid():N}.bin");
        fullModel.Save(temporary);
        var model = LanguageIdModel.Load(temporary);
        File.Delete(temporary);
        return new LanguageIdTrainingResult(model, Evaluate(model, languages, trainText, testText, testPieces), options.ChunkCharacters);
    }

    // The document's text, less the lines found verbatim in its original (same file name in the reference language)
    // and the lines holding two or more reference-language marker words.
    private static string ReadDocument(string file, Dictionary<string, HashSet<string>>? originals, HashSet<string>? markers)
    {
        string text = File.ReadAllText(file);
        HashSet<string>? original = null;
        originals?.TryGetValue(Path.GetFileName(file), out original);
        if (original is null && markers is null) return text;
        var kept = new StringBuilder(text.Length);
        foreach (var line in text.Split('\n'))
        {
            if (original is not null && original.Contains(line.Trim())) continue;
            if (markers is not null && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(markers.Contains).Distinct(StringComparer.OrdinalIgnoreCase).Count() >= 2) continue;
            kept.Append(line).Append('\n');
        }
        return kept.ToString();
    }

    // Pieces of about `size` characters ending at whitespace, each holding at least size/4 letters.
    private static IEnumerable<Piece> Cut(List<string> documents, int language, int size)
    {
        for (int d = 0; d < documents.Count; d++)
        {
            string text = documents[d];
            int start = 0;
            while (start < text.Length)
            {
                int end = Math.Min(text.Length, start + size);
                while (end < text.Length && !char.IsWhiteSpace(text[end])) end++;
                int letters = 0;
                for (int i = start; i < end; i++) if (char.IsLetter(text[i])) letters++;
                if (letters >= size / 4) yield return new Piece(language, d, start, end - start);
                start = end + 1;
            }
        }
    }

    private static List<Piece> Sample(IEnumerable<Piece> pieces, int max, Random random)
    {
        var all = pieces.ToList();
        for (int i = all.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (all[i], all[j]) = (all[j], all[i]);
        }
        return all.Count > max ? all.GetRange(0, max) : all;
    }

    private struct BucketCollector : IFeatureSink
    {
        public List<int> Buckets;
        public void Add(int bucket) => Buckets.Add(bucket);
    }

    // SGD on softmax cross-entropy; each step moves the example's logits a fraction (the decayed rate) of the way
    // along the gradient: step = rate / sum(x_f^2), with x_f the feature frequencies of the example.
    private static void Fit(List<Piece> pieces, List<string>[] text, float[] weights, float[] bias, int languageCount, int stride,
        LanguageIdTrainingOptions options, Random random, IProgress<double>? progress)
    {
        var collector = new BucketCollector { Buckets = new List<int>(4096) };
        var unique = new List<(int Bucket, float X)>(4096);
        var logits = new float[stride];
        var gradient = new float[stride];
        long totalSteps = (long)options.Epochs * pieces.Count, step = 0;
        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            for (int i = pieces.Count - 1; i > 0; i--)
            {
                int j = random.Next(i + 1);
                (pieces[i], pieces[j]) = (pieces[j], pieces[i]);
            }
            foreach (var piece in pieces)
            {
                float rate = options.LearningRate * (1 - (float)step / totalSteps);
                step++;
                collector.Buckets.Clear();
                CharNGramFeatures.Extract(text[piece.Language][piece.Document].AsSpan(piece.Start, piece.Length), options.BucketBits, ref collector);
                var buckets = collector.Buckets;
                if (buckets.Count == 0) continue;
                buckets.Sort();
                unique.Clear();
                float inverse = 1f / buckets.Count, sumSquares = 0;
                for (int k = 0; k < buckets.Count;)
                {
                    int run = k;
                    while (run < buckets.Count && buckets[run] == buckets[k]) run++;
                    float x = (run - k) * inverse;
                    unique.Add((buckets[k], x));
                    sumSquares += x * x;
                    k = run;
                }
                // logits = bias + sum_f x_f W[f]
                bias.CopyTo(logits, 0);
                foreach (var (bucket, x) in unique) TensorPrimitives.MultiplyAdd(weights.AsSpan(bucket * stride, stride), x, logits, logits);
                // gradient = softmax(logits) - onehot(language), zero in the padding
                Array.Clear(gradient);
                TensorPrimitives.SoftMax(logits.AsSpan(0, languageCount), gradient.AsSpan(0, languageCount));
                gradient[piece.Language] -= 1;
                float scale = rate / sumSquares;
                TensorPrimitives.MultiplyAdd(gradient, -rate * 0.1f, bias, bias);
                foreach (var (bucket, x) in unique)
                {
                    var row = weights.AsSpan(bucket * stride, stride);
                    TensorPrimitives.MultiplyAdd(gradient, -scale * x, row, row);
                }
                if ((step & 4095) == 0) progress?.Report((double)step / totalSteps);
            }
        }
        progress?.Report(1);
    }

    private static List<LanguageAccuracy> Evaluate(LanguageIdModel model, string[] languages, List<string>[] trainText, List<string>[] testText, List<Piece> testPieces)
    {
        var result = new List<LanguageAccuracy>();
        for (int l = 0; l < languages.Length; l++)
        {
            var pieces = testPieces.Where(p => p.Language == l).ToList();
            int right = pieces.Count(p => model.Identify(testText[l][p.Document].AsSpan(p.Start, p.Length)).Language == languages[l]);
            int rightDocuments = testText[l].Count(d => model.Identify(d.AsSpan(0, Math.Min(d.Length, 20_000))).Language == languages[l]);
            result.Add(new LanguageAccuracy(languages[l], trainText[l].Count, testText[l].Count, pieces.Count,
                pieces.Count == 0 ? 0 : (double)right / pieces.Count, (double)rightDocuments / testText[l].Count));
        }
        return result;
    }
}
