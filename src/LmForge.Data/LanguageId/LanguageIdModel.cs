using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using LmForge.Data.Dedup;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.LanguageId;

/// <summary>
/// A linear language identifier over hashed character n-grams: the features of a text (CharNGramFeatures) are
/// averaged, multiplied by a (buckets x languages) weight matrix, a bias is added and a softmax gives one probability
/// per language, as fastText's linear classifier does but without its embedding layer. Trained by
/// LanguageIdTrainer; thread-safe once loaded (Identify allocates nothing but a stack buffer).
///
/// File format (little endian): "LMFLANG1", u32 version 1, u32 bucket bits, u32 language count L, then L codes
/// (u8 length + ASCII), L f32 biases, then per bucket: f32 scale and L signed bytes (weight = byte x scale).
/// </summary>
public sealed class LanguageIdModel
{
    private const string Magic = "LMFLANG1";
    private const uint Version = 1;

    private readonly float[] _weights; // (buckets, Stride) row-major; columns >= Languages.Count are 0
    private readonly float[] _bias;

    internal LanguageIdModel(int bucketBits, string[] languages, float[] weights, float[] bias)
    {
        BucketBits = bucketBits;
        Languages = languages;
        Stride = (languages.Length + 7) / 8 * 8;
        if (weights.Length != (1 << bucketBits) * Stride) throw new ArgumentException($"weights need {(1 << bucketBits) * Stride} values, got {weights.Length}");
        _weights = weights;
        _bias = bias;
    }

    public int BucketBits { get; }

    public IReadOnlyList<string> Languages { get; }

    /// <summary>Row length of the weight matrix: the language count rounded up to a multiple of 8 (one AVX vector).</summary>
    internal int Stride { get; }

    internal float[] Weights => _weights;

    internal float[] Bias => _bias;

    /// <summary>The most likely language of text and its probability.</summary>
    public LanguagePrediction Identify(ReadOnlySpan<char> text)
    {
        Span<float> probabilities = stackalloc float[Stride];
        if (!Probabilities(text, probabilities)) return new LanguagePrediction("und", 0);
        int best = TensorPrimitives.IndexOfMax(probabilities[..Languages.Count]);
        return new LanguagePrediction(Languages[best], probabilities[best]);
    }

    /// <summary>Fills probabilities[0..Languages.Count) (span at least Stride long); false when text has no letter.</summary>
    public bool Probabilities(ReadOnlySpan<char> text, Span<float> probabilities)
    {
        if (probabilities.Length < Stride) throw new ArgumentException($"probabilities needs {Stride} slots, got {probabilities.Length}");
        var sink = new RowAccumulator(_weights, Stride, probabilities[..Stride]);
        sink.Sum.Clear();
        CharNGramFeatures.Extract(text, BucketBits, ref sink);
        if (sink.Count == 0) return false;
        sink.Flush();
        var logits = probabilities[..Languages.Count];
        TensorPrimitives.Multiply(logits, 1f / sink.Count, logits);
        TensorPrimitives.Add(logits, _bias, logits);
        TensorPrimitives.SoftMax(logits, logits);
        return true;
    }

    // Adds the weight row of every feature into Sum: Sum[c] += W[bucket, c] for each feature occurrence. Rows of 32
    // (up to 32 languages) are summed in four AVX registers; other widths go through TensorPrimitives.
    private ref struct RowAccumulator(float[] weights, int stride, Span<float> sum) : IFeatureSink
    {
        private readonly float[] _weights = weights;
        private readonly int _stride = stride;
        public readonly Span<float> Sum = sum;
        public int Count;
        private Vector256<float> _s0, _s1, _s2, _s3;

        public void Add(int bucket)
        {
            Count++;
            if (_stride == 32)
            {
                ref float row = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_weights), bucket * 32);
                _s0 += Vector256.LoadUnsafe(ref row);
                _s1 += Vector256.LoadUnsafe(ref row, 8);
                _s2 += Vector256.LoadUnsafe(ref row, 16);
                _s3 += Vector256.LoadUnsafe(ref row, 24);
            }
            else TensorPrimitives.Add(Sum, _weights.AsSpan(bucket * _stride, _stride), Sum);
        }

        /// <summary>Moves the register sums into Sum (call once after the last Add).</summary>
        public readonly void Flush()
        {
            if (_stride != 32) return;
            _s0.CopyTo(Sum);
            _s1.CopyTo(Sum[8..]);
            _s2.CopyTo(Sum[16..]);
            _s3.CopyTo(Sum[24..]);
        }
    }

    public void Save(string path)
    {
        AtomicFile.Write(path, stream =>
        {
            using var writer = new BinaryWriter(stream, Encoding.ASCII, leaveOpen: true);
            writer.Write(Encoding.ASCII.GetBytes(Magic));
            writer.Write(Version);
            writer.Write((uint)BucketBits);
            writer.Write((uint)Languages.Count);
            foreach (var language in Languages)
            {
                writer.Write((byte)language.Length);
                writer.Write(Encoding.ASCII.GetBytes(language));
            }
            for (int c = 0; c < Languages.Count; c++) writer.Write(_bias[c]);
            var quantized = new byte[Languages.Count];
            for (int row = 0; row < 1 << BucketBits; row++)
            {
                var weights = _weights.AsSpan(row * Stride, Languages.Count);
                float max = TensorPrimitives.MaxMagnitude(weights);
                float scale = max == 0 ? 0 : Math.Abs(max) / 127f;
                writer.Write(scale);
                for (int c = 0; c < weights.Length; c++) quantized[c] = (byte)(sbyte)(scale == 0 ? 0 : Math.Round(weights[c] / scale));
                writer.Write(quantized);
            }
        });
    }

    /// <summary>Name of the model built into this library (25 languages, trained on Debian's translated man pages by
    /// LanguageId/Model/build-model.sh).</summary>
    public const string BuiltInResource = "LmForge.Data.LanguageId.Model.debian25.langid";

    private static readonly Lazy<LanguageIdModel> BuiltInModel = new(() =>
    {
        using var stream = typeof(LanguageIdModel).Assembly.GetManifestResourceStream(BuiltInResource)
            ?? throw new InvalidOperationException($"{BuiltInResource}: resource missing from {typeof(LanguageIdModel).Assembly.GetName().Name}");
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return Parse(memory.ToArray(), BuiltInResource);
    });

    /// <summary>The model shipped inside the library, loaded on first use.</summary>
    public static LanguageIdModel BuiltIn => BuiltInModel.Value;

    public static LanguageIdModel Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: language-id model not found (train one with `lmforge data train-langid`)", path);
        return Parse(File.ReadAllBytes(path), path);
    }

    private static LanguageIdModel Parse(byte[] bytes, string path)
    {
        int offset = 0;
        ReadOnlySpan<byte> Take(int count)
        {
            if (offset + count > bytes.Length) throw new InvalidDataException($"{path}: truncated at byte {offset} (file is {bytes.Length} bytes, needed {offset + count})");
            var span = bytes.AsSpan(offset, count);
            offset += count;
            return span;
        }
        string magic = Encoding.ASCII.GetString(Take(8));
        if (magic != Magic) throw new InvalidDataException($"{path}: not a language-id model (magic '{new string(magic.Select(c => c is >= ' ' and <= '~' ? c : '?').ToArray())}', expected '{Magic}')");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        if (version != Version) throw new InvalidDataException($"{path}: model format version {version}, expected {Version}");
        int bits = (int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        if (bits is < 8 or > 24) throw new InvalidDataException($"{path}: bucket bits {bits}, expected 8..24");
        int languageCount = (int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
        if (languageCount is < 2 or > 1000) throw new InvalidDataException($"{path}: language count {languageCount}, expected 2..1000");
        var languages = new string[languageCount];
        for (int c = 0; c < languageCount; c++) languages[c] = Encoding.ASCII.GetString(Take(Take(1)[0]));
        var bias = MemoryMarshal.Cast<byte, float>(Take(4 * languageCount)).ToArray();
        int stride = (languageCount + 7) / 8 * 8;
        var weights = new float[(1 << bits) * stride];
        for (int row = 0; row < 1 << bits; row++)
        {
            float scale = BinaryPrimitives.ReadSingleLittleEndian(Take(4));
            var quantized = Take(languageCount);
            for (int c = 0; c < languageCount; c++) weights[row * stride + c] = (sbyte)quantized[c] * scale;
        }
        if (offset != bytes.Length) throw new InvalidDataException($"{path}: {bytes.Length - offset} unexpected bytes after the weights");
        return new LanguageIdModel(bits, languages, weights, bias);
    }
}
