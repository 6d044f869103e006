using LmForge.Training.Data;
using LmForge.Training.Objectives;

namespace LmForge.Training.Tests.Objectives;

/// <summary>Masked-LM batches over shards: a pure function of the data position, fresh masks each epoch, exact on resume.</summary>
public class MaskedBatchLoaderTests
{
    const int Vocabulary = 50, Mask = 49, EndOfText = 48, B = 2, T = 16;

    static MaskedBatchLoader Open(string shard) =>
        new(new TokenBatchLoader([shard], B, T, Vocabulary, seed: 3, shuffle: true), new MaskedLanguageModeling(Vocabulary, Mask, [EndOfText]), seed: 11);

    static string Shard()
    {
        var random = new Random(5);
        var tokens = Enumerable.Range(0, 20 * (T + 1)).Select(i => i % 17 == 0 ? EndOfText : random.Next(40)).ToArray();
        return TestFiles.WriteShard(Path.Combine(TestFiles.TemporaryDirectory("masked"), "train_000000.bin"), tokens);
    }

    static (int[] Inputs, int[] Targets) Next(MaskedBatchLoader loader)
    {
        var inputs = new int[B * T];
        var targets = new int[B * T];
        Assert.False(loader.Next(inputs, targets, new int[B * T]));
        return (inputs, targets);
    }

    [Fact]
    public void Batches_are_masked_windows_and_a_resumed_loader_repeats_them()
    {
        string shard = Shard();
        using var straight = Open(shard);
        var batches = Enumerable.Range(0, 25).Select(_ => Next(straight)).ToList(); // past one epoch of 10 batches

        foreach (var (inputs, targets) in batches)
        {
            Assert.Contains(targets, t => t >= 0);
            for (int i = 0; i < inputs.Length; i++)
            {
                if (targets[i] < 0) continue;
                Assert.NotEqual(EndOfText, targets[i]); // specials are never chosen
                Assert.NotEqual(EndOfText, inputs[i]); // a chosen position becomes [MASK], a random ordinary token, or stays
            }
        }

        using var resumed = Open(shard);
        resumed.Seek(new DataPosition(1, 0, 3)); // where the straight loader was after 13 batches
        for (int i = 13; i < 25; i++)
        {
            var (inputs, targets) = Next(resumed);
            Assert.Equal(batches[i].Inputs, inputs);
            Assert.Equal(batches[i].Targets, targets);
        }
    }

    [Fact]
    public void The_same_window_is_masked_afresh_in_the_next_epoch()
    {
        string shard = Shard();
        using var unshuffled = new MaskedBatchLoader(new TokenBatchLoader([shard], B, T, Vocabulary, seed: 3, shuffle: false),
            new MaskedLanguageModeling(Vocabulary, Mask, [EndOfText]), seed: 11);
        var first = Next(unshuffled);
        for (int i = 1; i < unshuffled.BatchesPerEpoch; i++) Next(unshuffled);
        var again = Next(unshuffled); // batch 0 of epoch 1: the same windows
        var original = first.Inputs.Zip(first.Targets, (input, target) => target >= 0 ? target : input).ToArray();
        Assert.Equal(original, again.Inputs.Zip(again.Targets, (input, target) => target >= 0 ? target : input).ToArray());
        Assert.NotEqual(first.Targets, again.Targets);
    }
}
