namespace LmForge.Inference.Tests;

/// <summary>Continuous batching: concurrent requests share steps and each gets what it would get alone; a full queue refuses; a cancelled request frees its slot at once.</summary>
public sealed class GenerationEngineTests
{
    private static async Task<(List<int> Tokens, FinishReason? Finish)> Collect(IAsyncEnumerable<GenerationUpdate> updates)
    {
        var tokens = new List<int>();
        FinishReason? finish = null;
        await foreach (var update in updates)
        {
            if (update.Token >= 0) tokens.Add(update.Token);
            finish = update.FinishReason;
        }
        return (tokens, finish);
    }

    [Fact]
    public async Task Concurrent_requests_each_get_what_they_would_get_alone()
    {
        using var model = TestModels.Random("llama");
        int[][] prompts = [[1], [5, 6, 7], [9, 9], [100, 3, 4, 5, 6], [42], [7, 8, 9, 10]];
        var greedy = new SamplingOptions(Temperature: 0, MaxTokens: 12);
        var alone = new List<List<int>>();
        foreach (int[] prompt in prompts)
        {
            using var session = new InferenceSession(model, tokenizer: null);
            var sequence = session.Add(prompt, greedy);
            while (!sequence.IsFinished) session.Step();
            alone.Add([.. sequence.Generated]);
        }

        using var engine = new GenerationEngine(model, tokenizer: null, maxBatch: 3);
        var results = await Task.WhenAll(prompts.Select(p => Task.Run(() => Collect(engine.GenerateAsync(p, greedy)))));
        for (int i = 0; i < prompts.Length; i++)
        {
            Assert.Equal(alone[i], results[i].Tokens);
            Assert.Equal(FinishReason.MaxTokens, results[i].Finish);
        }
        Assert.Equal(0, engine.Running);
    }

    [Fact]
    public async Task A_full_queue_refuses_and_a_cancelled_request_frees_its_slot()
    {
        // the decoding thread is held inside the first request's prefill (at a linear layer) from before it starts until the
        // queue has been checked, so nothing races: the first request cannot finish early, however the threads are scheduled
        var backend = new LmForge.Tests.Shared.HostlessBackend();
        using var gate = new ManualResetEventSlim(initialState: false);
        // bounded, so that a failed assertion while the gate is closed cannot leave the engine's Dispose waiting forever
        backend.OnLinearForward = () => gate.Wait(TimeSpan.FromSeconds(60));
        using var model = TestModels.Random("gpt2", backend, contextLength: 256);
        using var engine = new GenerationEngine(model, tokenizer: null, maxBatch: 1, queueCapacity: 1);
        using var open = new GateOpener(gate); // disposed first: opens the gate before the engine stops
        var endless = new SamplingOptions(Temperature: 0, MaxTokens: 200);
        using var cancel = new CancellationTokenSource();
        var first = engine.GenerateAsync([1, 2], endless, cancel.Token).GetAsyncEnumerator();
        var firstToken = first.MoveNextAsync().AsTask(); // pending: the prefill is held at the gate
        for (int i = 0; i < 3000 && engine.Running == 0; i++) await Task.Delay(10);
        Assert.Equal(1, engine.Running); // it holds the only slot
        var waiting = Task.Run(() => Collect(engine.GenerateAsync([3], new SamplingOptions(Temperature: 0, MaxTokens: 3))));
        for (int i = 0; i < 3000 && engine.Waiting == 0; i++) await Task.Delay(10);
        Assert.Equal(1, engine.Waiting);
        var refused = await Assert.ThrowsAsync<GenerationQueueFullException>(async () => await Collect(engine.GenerateAsync([4], endless)));
        Assert.Contains("retry later", refused.Message);

        cancel.Cancel(); // the first request leaves: the waiting one gets the slot and finishes
        gate.Set();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            if (!await firstToken) return;
            while (await first.MoveNextAsync()) { }
        });
        var (tokens, finish) = await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(3, tokens.Count);
        Assert.Equal(FinishReason.MaxTokens, finish);
        await first.DisposeAsync();
    }

    [Fact]
    public async Task Bad_requests_fail_before_queueing()
    {
        using var model = TestModels.Random("gpt2", contextLength: 16);
        using var engine = new GenerationEngine(model, tokenizer: null);
        await Assert.ThrowsAsync<ArgumentException>(async () => await Collect(engine.GenerateAsync(new int[17], new SamplingOptions())));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await Collect(engine.GenerateAsync([1], new SamplingOptions(TopP: 2))));
    }

    private sealed class GateOpener(ManualResetEventSlim gate) : IDisposable
    {
        public void Dispose() => gate.Set();
    }
}
