using LmForge.Models.Transformer;
using LmForge.Tests.Shared;

namespace LmForge.Inference.Tests;

/// <summary>
/// Sessions with a KV cache against full recomputation without one: logits at every step (prefills, decodes, sequences
/// joining and leaving, a slot reused with stale keys in it), greedy continuations, and the session's rules (finish
/// reasons, bad input, threads).
/// </summary>
public sealed class InferenceSessionTests
{
    private static double RelativeError(float[] expected, ReadOnlySpan<float> actual)
    {
        double scale = expected.Max(x => Math.Abs((double)x)), worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        return worst / scale;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void Cached_logits_equal_full_recomputation_at_every_step_as_sequences_join_and_leave(string family)
    {
        using var model = TestModels.Random(family);
        using var cache = model.CreateCache(slots: 3);
        int v = model.Config.VocabSize;
        var random = new Random(5);
        // sequence name → (slot, tokens so far); a schedule of joins and leaves over 12 steps
        var sequences = new Dictionary<string, (int Slot, List<int> Tokens)>();
        var pendingPrefill = new HashSet<string>();
        void Join(string name, int slot, int promptLength)
        {
            sequences[name] = (slot, Enumerable.Range(0, promptLength).Select(_ => random.Next(v)).ToList());
            pendingPrefill.Add(name);
        }
        Join("a", 0, 5);
        Join("b", 1, 1);
        double worst = 0;
        for (int step = 0; step < 12; step++)
        {
            if (step == 2) Join("c", 2, 9);                        // joins mid-way beside two decoding sequences
            if (step == 4) sequences.Remove("a");                  // leaves; its slot keeps stale keys
            if (step == 5) Join("d", 0, 3);                        // reuses a's slot, shorter than a was
            if (step == 8) { sequences.Remove("b"); Join("e", 1, 12); }

            var tokens = new List<int>();
            var slots = new List<int>();
            var positions = new List<int>();
            var logitRows = new List<int>();
            var order = sequences.Keys.Order().ToList();
            foreach (string name in order)
            {
                var (slot, sequence) = sequences[name];
                int first = pendingPrefill.Remove(name) ? 0 : sequence.Count - 1;
                for (int i = first; i < sequence.Count; i++)
                {
                    tokens.Add(sequence[i]);
                    slots.Add(slot);
                    positions.Add(i);
                }
                logitRows.Add(tokens.Count - 1);
            }
            var logits = new float[logitRows.Count * v];
            model.ForwardCached(cache, tokens.ToArray(), slots.ToArray(), positions.ToArray(), logitRows.ToArray(), logits);
            for (int s = 0; s < order.Count; s++)
            {
                var sequence = sequences[order[s]].Tokens;
                float[] expected = TestModels.FullLogits(model, sequence);
                var actual = logits.AsSpan(s * v, v);
                worst = Math.Max(worst, RelativeError(expected, actual));
                Assert.True(RelativeError(expected, actual) <= 1e-5, $"step {step}, sequence {order[s]}: relative error {RelativeError(expected, actual):E2}");
                Assert.Equal(ArgMax(expected), ArgMax(actual));
                sequence.Add(ArgMax(actual));
            }
        }
        Assert.True(worst > 0 || family.Length > 0);
    }

    [Theory]
    [InlineData("gpt2", false)]
    [InlineData("llama", false)]
    [InlineData("llama", true)] // on a backend whose memory the host cannot address
    public void Batched_greedy_session_equals_a_recomputing_loop_for_each_prompt(string family, bool hostless)
    {
        using var model = TestModels.Random(family, hostless ? new HostlessBackend() : null);
        int[][] prompts = [[5], [17, 3, 99, 4, 250, 8, 1], [42, 42, 42], [7, 300, 11, 2, 9]];
        var greedy = new SamplingOptions(Temperature: 0, MaxTokens: 20);
        using var session = new InferenceSession(model, TestModels.Tokenizer, maxSequences: prompts.Length);
        var sequences = prompts.Select(p => session.Add(p, greedy)).ToList();
        while (session.Active.Count > 0) session.Step();

        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = new List<int>(prompts[i]);
            for (int t = 0; t < 20; t++) expected.Add(ArgMax(TestModels.FullLogits(model, expected)));
            Assert.Equal(expected.Skip(prompts[i].Length), sequences[i].Generated);
            Assert.Equal(FinishReason.MaxTokens, sequences[i].FinishReason);
        }
    }

    [Fact]
    public void Sequences_stop_at_max_tokens_stop_tokens_or_a_full_context()
    {
        using var model = TestModels.Random("llama", contextLength: 16);
        using var session = new InferenceSession(model, TestModels.Tokenizer, maxSequences: 2);
        var full = session.Add(Enumerable.Range(1, 10).ToArray(), new SamplingOptions(Temperature: 0, MaxTokens: 100));
        while (!full.IsFinished) session.Step();
        Assert.Equal(FinishReason.ContextFull, full.FinishReason);
        Assert.Equal(16 - 10 + 1, full.Generated.Count); // the last sampled token cannot be fed back: the context is full
        Assert.Empty(session.Active);

        int first = full.Generated[0];
        var stopped = session.Add(Enumerable.Range(1, 10).ToArray(), new SamplingOptions(Temperature: 0, MaxTokens: 100) { StopTokens = [first] });
        var steps = session.Step();
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(-1, steps[0].Token);
        Assert.Empty(stopped.Generated);
    }

    [Fact]
    public void Stop_strings_split_across_tokens_are_held_back_and_cut()
    {
        var tokenizer = TestModels.Tokenizer;
        var options = new SamplingOptions(MaxTokens: 100) { StopStrings = ["world."] };
        var sequence = new GenerationSequence(0, 0, [1], options, tokenizer, tokenizer.VocabularySize);
        var released = new List<string>();
        foreach (string piece in new[] { "Hello ", "wo", "rl", "d", ". The end" })
        {
            foreach (int token in tokenizer.EncodeOrdinary(piece))
            {
                if (sequence.IsFinished) break;
                sequence.CachedLength = 1;
                released.Add(sequence.Accept(token, capacity: 1000));
            }
        }
        Assert.Equal(FinishReason.Stop, sequence.FinishReason);
        Assert.Equal("Hello ", string.Concat(released));
        Assert.Equal("Hello ", sequence.Text);
        Assert.DoesNotContain(released, r => r.Contains('w'));

        // a partial match that turns out not to be the stop string is released once it is decided
        var other = new GenerationSequence(1, 0, [1], options, tokenizer, tokenizer.VocabularySize);
        var text = new List<string>();
        foreach (int token in tokenizer.EncodeOrdinary("a worl b"))
        {
            other.CachedLength = 1;
            text.Add(other.Accept(token, capacity: 1000));
        }
        Assert.Equal("a worl b", string.Concat(text));
    }

    [Fact]
    public void Bad_input_is_a_clear_error()
    {
        using var model = TestModels.Random("gpt2", contextLength: 16);
        using var session = new InferenceSession(model, TestModels.Tokenizer, maxSequences: 1);
        var options = new SamplingOptions();
        Assert.Contains("no tokens", Assert.Throws<ArgumentException>(() => session.Add(Array.Empty<int>(), options)).Message);
        Assert.Contains("at most 16", Assert.Throws<ArgumentException>(() => session.Add(new int[17], options)).Message);
        Assert.Contains("outside the vocabulary", Assert.Throws<ArgumentOutOfRangeException>(() => session.Add([1, 320], options)).Message);
        Assert.Contains("temperature", Assert.Throws<ArgumentOutOfRangeException>(() => session.Add([1], new SamplingOptions(Temperature: -1))).Message);
        Assert.Contains("top-p", Assert.Throws<ArgumentOutOfRangeException>(() => session.Add([1], new SamplingOptions(TopP: 0))).Message);
        Assert.Contains("top-k", Assert.Throws<ArgumentOutOfRangeException>(() => session.Add([1], new SamplingOptions(TopK: -1))).Message);
        session.Add([1], options);
        Assert.Contains("full", Assert.Throws<InvalidOperationException>(() => session.Add([2], options)).Message);
        using var other = TestModels.Random("gpt2");
        var mismatch = new LmForge.Tokenization.Training.BpeTrainer(new LmForge.Tokenization.Training.BpeTrainerOptions { VocabSize = 300, Threads = 1 })
            .TrainOnTexts(["some text to learn a few merges from, some text"]).ToTokenizer();
        Assert.Contains("do not belong together", Assert.Throws<ArgumentException>(() => new InferenceSession(other, mismatch)).Message);
    }

    [Fact]
    public async Task Disposing_a_session_while_another_thread_steps_is_an_error_not_a_hang()
    {
        var backend = new HostlessBackend();
        using var model = TestModels.Random("gpt2", backend);
        var session = new InferenceSession(model, TestModels.Tokenizer);
        session.Add([1, 2, 3], new SamplingOptions(MaxTokens: 3));
        using var inside = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        backend.OnLinearForward = () =>
        {
            inside.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        };
        var stepping = Task.Run(session.Step);
        Assert.True(inside.Wait(TimeSpan.FromSeconds(30)), "the step never reached the model");
        var error = Assert.Throws<InvalidOperationException>(session.Dispose);
        Assert.Contains("another thread", error.Message);
        backend.OnLinearForward = null;
        release.Set();
        await stepping.WaitAsync(TimeSpan.FromSeconds(30));
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => session.Step());
    }

    [Fact]
    public async Task Sessions_on_two_threads_share_one_model_read_only()
    {
        using var model = TestModels.Random("llama");
        Assert.False(model.IsTrainable);
        Assert.Throws<InvalidOperationException>(() => model.Gradients);
        var greedy = new SamplingOptions(Temperature: 0, MaxTokens: 24);
        List<int> Run(int[] prompt)
        {
            using var session = new InferenceSession(model, TestModels.Tokenizer);
            var sequence = session.Add(prompt, greedy);
            while (!sequence.IsFinished) session.Step();
            return [.. sequence.Generated];
        }
        var alone = new[] { Run([3, 4, 5]), Run([9, 8, 7, 6]) };
        var together = await Task.WhenAll(Task.Run(() => Run([3, 4, 5])), Task.Run(() => Run([9, 8, 7, 6])));
        Assert.Equal(alone[0], together[0]);
        Assert.Equal(alone[1], together[1]);
    }

    [Fact]
    public void Cache_reports_its_memory_per_token()
    {
        using var model = TestModels.Random("llama");
        using var session = new InferenceSession(model, TestModels.Tokenizer, maxSequences: 2);
        // 2 (keys, values) × 2 layers × 2 key/value heads × head size 8 × 4 bytes
        Assert.Equal(2L * 2 * 2 * 8 * 4, session.CacheBytesPerToken);
    }
}
