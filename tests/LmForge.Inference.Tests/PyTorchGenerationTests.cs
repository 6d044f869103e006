using System.Text.Json;
using LmForge.Models.Checkpoints;

namespace LmForge.Inference.Tests;

/// <summary>
/// Greedy continuations against PyTorch with its own KV cache (tests/reference/make_generation_fixtures.py): a random
/// GPT-2 and a random Llama-style model in Hugging Face's layout, prompts of different lengths, 32 new tokens each,
/// every greedy choice at least 1e-3 ahead of the runner-up so rounding cannot flip it. All prompts decode together in
/// one session (a batch of sequences of different lengths), and each must reproduce PyTorch's tokens exactly.
/// </summary>
public sealed class PyTorchGenerationTests
{
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Greedy_continuations_match_pytorch_token_for_token(string family)
    {
        string directory = Path.Combine(AppContext.BaseDirectory, "generation", family);
        using var expected = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "expected.json")));
        var cases = expected.RootElement.GetProperty("cases").EnumerateArray()
            .Select(c => (Prompt: c.GetProperty("prompt").EnumerateArray().Select(t => t.GetInt32()).ToArray(),
                          Continuation: c.GetProperty("continuation").EnumerateArray().Select(t => t.GetInt32()).ToArray()))
            .ToList();
        Assert.True(cases.Count >= 4 && cases.Select(c => c.Prompt.Length).Distinct().Count() >= 3, "the fixture needs prompts of several lengths");

        using var model = ModelCheckpoint.Load(directory, trainable: false);
        Assert.Equal(family, model.Config.Family);
        using var session = new InferenceSession(model, tokenizer: null, maxSequences: cases.Count);
        var sequences = cases.Select(c => session.Add(c.Prompt, new SamplingOptions(Temperature: 0, MaxTokens: c.Continuation.Length))).ToList();
        while (session.Active.Count > 0) session.Step();
        for (int i = 0; i < cases.Count; i++)
            Assert.True(cases[i].Continuation.SequenceEqual(sequences[i].Generated),
                $"prompt {i} ({cases[i].Prompt.Length} tokens): PyTorch [{string.Join(", ", cases[i].Continuation)}], ours [{string.Join(", ", sequences[i].Generated)}]");
    }
}
