using LmForge.Fuzzing;

namespace LmForge.Fuzzing.Tests;

/// <summary>
/// A seeded few hundred cases of every reader (the same bytes on every run), and the cases of other seeds that once
/// failed, each kept by its seed and number: every one must be accepted or cleanly rejected.
/// </summary>
public class SeededFuzzTests
{
    const int Seed = 20261201, Cases = 250;

    public static TheoryData<string> Targets => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Seeded_cases_are_accepted_or_cleanly_rejected(string target)
    {
        var campaign = FuzzCampaign.Run(FuzzTargets.Get(target), Seed, Cases);
        Assert.True(campaign.Failures.Count == 0, Describe(campaign.Failures));
        Assert.Equal(Cases, campaign.Accepted + campaign.Rejected);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void The_valid_input_is_accepted(string target)
    {
        var fuzzTarget = FuzzTargets.Get(target);
        using var runner = new FuzzRunner(fuzzTarget);
        var result = runner.Run(new FuzzInput(-1, fuzzTarget.Files.ToDictionary(f => f.Name, f => (byte[]?)f.Seed), "unmutated"));
        Assert.True(result.Outcome == FuzzOutcome.Accepted, result.Detail);
    }

    // Cases that failed before their reader was fixed (found by `bench fuzz`), by target, seed and case number.
    [Theory]
    [InlineData("checkpoint", 1, 250)]      // config.json vocab_size 2147483647: ArgumentException from the layout, before any check of the weights
    [InlineData("checkpoint", 2, 212)]      // config.json vocab_size [0, 0]: the array echoed over several lines
    [InlineData("checkpoint", 2, 947)]      // config.json invalid UTF-8: InvalidOperationException from GetString / GetRawText
    [InlineData("checkpoint", 2, 987)]      // config.json n_layer a 5,000-character string, echoed whole
    [InlineData("checkpoint", 2, 1235)]     // optimizer.safetensors shape dimension a 2,000-element array, echoed whole
    [InlineData("checkpoint", 1, 8123)]     // config.json activation_function "a\nb" echoed with its line break
    [InlineData("safetensors", 2, 606)]     // the same in a bare safetensors file
    [InlineData("safetensors", 3, 4713)]    // a shape of 2,000 dimensions printed whole
    [InlineData("tokenizer-json", 1, 3)]    // broken JSON: System.Text.Json's message quoting kilobytes of the file
    [InlineData("gpt2-vocab", 2, 875)]      // the same in encoder.json
    [InlineData("jsonl", 1, 1833)]          // a metadata key "\ud83d": InvalidOperationException from JsonProperty.Name ended the file's reading
    [InlineData("chat-jsonl", 2, 218)]      // invalid UTF-8 in a role: InvalidOperationException
    [InlineData("chat-jsonl", 2, 315)]      // role "a\nb" echoed with its line break
    [InlineData("chat-jsonl", 2, 1365)]     // a 5,000-character role echoed whole
    [InlineData("recipe", 2, 11)]           // soft_banned_words [false] echoed over several lines
    [InlineData("recipe", 2, 546)]          // a 5,000-character step type echoed whole
    [InlineData("recipe", 2, 676)]          // broken JSON: the message quoting the file across lines
    [InlineData("recipe", 1, 4213)]         // a reader's path "a\nb" echoed with its line break
    [InlineData("recipe", 1, 9738)]         // a reader's 5,000-character path echoed whole
    [InlineData("recipe", 2, 861)]          // removed_dir "\u0000": ArgumentException from Path.GetFullPath
    public void Cases_that_found_a_defect_stay_fixed(string target, int seed, long index)
    {
        using var runner = new FuzzRunner(FuzzTargets.Get(target));
        var result = runner.Run(seed, index);
        Assert.True(result.Outcome != FuzzOutcome.Failed, $"{result.Input.Description}: {result.Detail}");
    }

    internal static string Describe(IReadOnlyList<FuzzResult> failures) =>
        string.Join("\n", failures.Take(5).Select(f => $"case {f.Input.Index}: {f.Input.Description}: {f.Detail}"));
}
