using LmForge.Training.Data;
using LmForge.Training.Objectives;

namespace LmForge.Training.Tests.Objectives;

/// <summary>Span-corruption batches over shards: a pure function of the data position, fresh spans each epoch, exact on resume, lossless.</summary>
public class SpanBatchLoaderTests
{
    const int Vocabulary = 160, EndOfText = 48, Pad = 49, B = 2, T = 40;
    static readonly int[] Sentinels = [.. Enumerable.Range(50, 100)];

    static SpanCorruption Corruption(double noiseDensity = 0.15, double meanSpanLength = 3) => new(Sentinels, EndOfText, noiseDensity, meanSpanLength);

    static string Shard(int tokens = 20 * (T + 2))
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, tokens).Select(i => i % 17 == 0 ? EndOfText : random.Next(40)).ToArray();
        return TestFiles.WriteShard(Path.Combine(TestFiles.TemporaryDirectory("span"), "train_000000.bin"), values);
    }

    static SpanBatchLoader Open(string shard, bool shuffle = true, SpanCorruption? corruption = null, int t = T, int batchSize = B, int vocabulary = Vocabulary)
    {
        corruption ??= Corruption();
        int raw = SpanBatchLoader.RawLength(corruption, t);
        return new SpanBatchLoader(new TokenBatchLoader([shard], batchSize, raw, vocabulary, seed: 3, shuffle), corruption, t, Pad, seed: 11);
    }

    static (int[] Inputs, int[] Targets) Next(SpanBatchLoader loader)
    {
        var inputs = new int[loader.BatchSize * loader.SequenceLength];
        var targets = new int[loader.BatchSize * loader.TargetLength];
        Assert.False(loader.Next(inputs, targets, new int[inputs.Length]));
        return (inputs, targets);
    }

    // Undoes the corruption: each sentinel of the input is replaced by the tokens after it in the target.
    static int[] Reconstruct(ReadOnlySpan<int> input, ReadOnlySpan<int> target)
    {
        var kept = input.ToArray().Reverse().SkipWhile(t => t == Pad).Reverse().ToList();
        Assert.Equal(EndOfText, kept[^1]);
        kept.RemoveAt(kept.Count - 1);
        var labels = target.ToArray().Reverse().SkipWhile(t => t == -1).Reverse().ToList();
        Assert.Equal(EndOfText, labels[^1]);
        var spans = new List<List<int>>();
        foreach (int token in labels.Take(labels.Count - 1))
        {
            if (Sentinels.Contains(token))
            {
                Assert.Equal(Sentinels[spans.Count], token); // sentinels in order
                spans.Add([]);
            }
            else spans[^1].Add(token);
        }
        Assert.Empty(spans[^1]); // the final sentinel closes the target
        var window = new List<int>();
        int used = 0;
        foreach (int token in kept)
        {
            if (!Sentinels.Contains(token))
            {
                window.Add(token);
                continue;
            }
            Assert.Equal(Sentinels[used], token);
            Assert.NotEmpty(spans[used]);
            window.AddRange(spans[used++]);
        }
        Assert.Equal(spans.Count - 1, used);
        return [.. window];
    }

    [Fact]
    public void Rows_undo_into_the_raw_windows_and_a_resumed_loader_repeats_them()
    {
        string shard = Shard();
        using var straight = Open(shard);
        Assert.Equal(44, straight.WindowLength); // 44 tokens: 7 noise in 2 spans, 37 kept + 2 sentinels + the end = 40
        Assert.Equal(11, straight.TargetLength); // 2 sentinels, 7 noise, the final sentinel, the end
        using var windows = new TokenBatchLoader([shard], B, straight.WindowLength, Vocabulary, seed: 3, shuffle: true);
        var raw = new int[B * straight.WindowLength];
        var batches = new List<(int[] Inputs, int[] Targets)>();
        var positions = new List<DataPosition>();
        for (int i = 0; i < 25; i++) // into the third epoch of 9 batches
        {
            positions.Add(straight.Position);
            var batch = Next(straight);
            batches.Add(batch);
            windows.Next(raw, new int[raw.Length]);
            for (int row = 0; row < B; row++)
                Assert.Equal(raw.AsSpan(row * straight.WindowLength, straight.WindowLength).ToArray(),
                    Reconstruct(batch.Inputs.AsSpan(row * T, T), batch.Targets.AsSpan(row * straight.TargetLength, straight.TargetLength)));
        }
        Assert.DoesNotContain(Pad, batches.SelectMany(b => b.Inputs)); // 44 raw tokens make exactly T = 40 inputs

        using var again = Open(shard);
        Assert.Equal(batches.Select(b => b.Inputs), Enumerable.Range(0, 25).Select(_ => Next(again).Inputs)); // a pure function of the seed

        using var resumed = Open(shard);
        Assert.Equal(1, positions[13].Epoch);
        resumed.Seek(positions[13]);
        for (int i = 13; i < 25; i++)
        {
            var (inputs, targets) = Next(resumed);
            Assert.Equal(batches[i].Inputs, inputs);
            Assert.Equal(batches[i].Targets, targets);
        }
    }

    [Fact]
    public void The_same_window_is_corrupted_afresh_in_the_next_epoch()
    {
        string shard = Shard();
        using var unshuffled = Open(shard, shuffle: false);
        var first = Next(unshuffled);
        for (int i = 1; i < unshuffled.BatchesPerEpoch; i++) Next(unshuffled);
        var again = Next(unshuffled); // batch 0 of epoch 1: the same windows
        int t = unshuffled.TargetLength;
        for (int row = 0; row < B; row++)
            Assert.Equal(Reconstruct(first.Inputs.AsSpan(row * T, T), first.Targets.AsSpan(row * t, t)), Reconstruct(again.Inputs.AsSpan(row * T, T), again.Targets.AsSpan(row * t, t)));
        Assert.NotEqual(first.Targets, again.Targets);
    }

    [Fact]
    public void At_T5s_defaults_512_inputs_come_from_568_tokens_and_take_115_targets()
    {
        var corruption = Corruption();
        Assert.Equal(568, SpanBatchLoader.RawLength(corruption, 512));
        Assert.Equal(512, corruption.InputLength(568));
        Assert.Equal(115, corruption.TargetLength(568)); // 85 noise tokens, 28 sentinels, the final sentinel, the end
        Assert.Equal((568, 114), SpanCorruption.Lengths(512)); // T5's random_spans_helper: no final sentinel

        var random = new Random(7);
        string shard = TestFiles.WriteShard(Path.Combine(TestFiles.TemporaryDirectory("span-512"), "train_000000.bin"),
            [.. Enumerable.Range(0, 3 * 569).Select(_ => random.Next(40))]);
        using var loader = Open(shard, corruption: corruption, t: 512, batchSize: 1);
        Assert.Equal((512, 115), (loader.SequenceLength, loader.TargetLength));
        var (inputs, targets) = Next(loader);
        Assert.Equal(EndOfText, inputs[^1]);
        Assert.Equal([Sentinels[28], EndOfText], targets[^2..]);
        Assert.DoesNotContain(-1, targets);
    }

    [Fact]
    public void The_raw_length_is_the_longest_that_fits_and_a_short_input_is_padded_with_PAD()
    {
        foreach (var (density, mean) in new[] { (0.15, 3.0), (0.5, 1.0), (0.3, 1.5), (0.8, 2.0) })
        {
            var corruption = Corruption(density, mean);
            for (int t = 3; t < 300; t++)
            {
                int raw = SpanBatchLoader.RawLength(corruption, t);
                Assert.True(corruption.InputLength(raw) <= t && corruption.InputLength(raw + 1) > t, $"density {density}, mean {mean}, T {t}: raw {raw}");
                Assert.InRange(corruption.InputLength(raw), t - 1, t); // at most one [PAD]
            }
        }
        Assert.Equal(1, SpanBatchLoader.RawLength(Corruption(), 2)); // not even 2 tokens fit: the caller's error

        // At density 0.5 and spans of 1 every kept token is followed by a sentinel: 7 raw tokens make 7 inputs, 8 make 9.
        var dense = Corruption(0.5, 1);
        using var loader = Open(Shard(), corruption: dense, t: 8);
        Assert.Equal(7, loader.WindowLength);
        var (inputs, _) = Next(loader);
        for (int row = 0; row < B; row++) Assert.Equal([EndOfText, Pad], inputs[(row * 8 + 6)..(row * 8 + 8)]);
    }

    [Fact]
    public void Windows_too_long_for_the_input_or_the_sentinels_are_refused()
    {
        string shard = Shard();
        using var windows = new TokenBatchLoader([shard], B, 45, Vocabulary, seed: 3, shuffle: false);
        Assert.Contains("use windows of 44", Assert.Throws<ArgumentException>(() => new SpanBatchLoader(windows, Corruption(), T, Pad, 1)).Message, StringComparison.Ordinal);
        var two = new SpanCorruption([50, 51], EndOfText, 0.5, 1); // 8 tokens: 4 spans and the final sentinel
        using var eight = new TokenBatchLoader([shard], B, 8, Vocabulary, seed: 3, shuffle: false);
        Assert.Contains("need 5 sentinels", Assert.Throws<ArgumentException>(() => new SpanBatchLoader(eight, two, 9, Pad, 1)).Message, StringComparison.Ordinal);
    }
}
