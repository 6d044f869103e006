using System.Threading.Channels;
using LmForge.Models.Transformer;
using LmForge.Tokenization;

namespace LmForge.Inference;

/// <summary>One piece of a request's output: the text a step released, its token (-1 for none), and the finish reason on the last piece.</summary>
public readonly record struct GenerationUpdate(string Text, int Token, FinishReason? FinishReason, int PromptTokens, int CompletionTokens);

/// <summary>Thrown when the engine's queue of waiting requests is full: the caller should retry later (HTTP 429).</summary>
public sealed class GenerationQueueFullException(int capacity)
    : InvalidOperationException($"{capacity} requests are already waiting; retry later")
{
    public int Capacity { get; } = capacity;
}

/// <summary>
/// Continuous batching over one <see cref="InferenceSession"/>: any number of callers on any threads submit requests;
/// one decoding thread owns the session, admits waiting requests whenever a slot is free (a request joins the batch at
/// the next step), runs one step for all of them, and hands each caller its text as it forms. A request leaves when it
/// finishes or when its caller cancels (its slot and cache are freed before the next step). At most
/// <c>maxBatch</c> requests decode at once and at most <c>queueCapacity</c> wait; beyond that
/// <see cref="GenerateAsync"/> throws <see cref="GenerationQueueFullException"/>.
/// </summary>
public sealed class GenerationEngine : IDisposable
{
    private readonly InferenceSession _session;
    private readonly Channel<Request> _waiting;
    private readonly List<(GenerationSequence Sequence, Request Request)> _running = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly Thread _thread;
    private readonly int _queueCapacity;
    private int _queued;

    public GenerationEngine(TransformerModel model, BpeTokenizer? tokenizer, int maxBatch = 16, int queueCapacity = 64)
    {
        if (queueCapacity < 1) throw new ArgumentOutOfRangeException(nameof(queueCapacity), $"queue capacity {queueCapacity}; expected at least 1");
        _session = new InferenceSession(model, tokenizer, maxBatch);
        _queueCapacity = queueCapacity;
        _waiting = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
        _thread = new Thread(Loop) { IsBackground = true, Name = "LmForge generation" };
        _thread.Start();
    }

    /// <summary>Positions per sequence (prompt plus generated tokens).</summary>
    public int Capacity => _session.Capacity;

    public int MaxBatch => _session.MaxSequences;

    /// <summary>Requests waiting for a slot.</summary>
    public int Waiting => Volatile.Read(ref _queued);

    /// <summary>Requests decoding now.</summary>
    public int Running => Volatile.Read(ref _runningCount);

    private int _runningCount;

    /// <summary>
    /// Generates from a prompt alongside every other request, yielding text as it forms; the last update carries the
    /// finish reason. Prompt and options are checked before the request queues (the same errors as
    /// <see cref="InferenceSession.Add(IReadOnlyList{int}, SamplingOptions)"/>); cancelling stops the generation at once.
    /// </summary>
    public async IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<int> prompt, SamplingOptions options,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        _session.Check(prompt, options);
        if (Interlocked.Increment(ref _queued) > _queueCapacity)
        {
            Interlocked.Decrement(ref _queued);
            throw new GenerationQueueFullException(_queueCapacity);
        }
        var request = new Request([.. prompt], options);
        if (!_waiting.Writer.TryWrite(request))
        {
            Interlocked.Decrement(ref _queued);
            throw new ObjectDisposedException(nameof(GenerationEngine));
        }
        try
        {
            await foreach (var update in request.Output.Reader.ReadAllAsync(cancellation).ConfigureAwait(false)) yield return update;
        }
        finally
        {
            request.Cancel(); // no-op when finished; otherwise the decoding thread drops it before its next step
        }
    }

    private void Loop()
    {
        var token = _stopping.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                // drop cancelled requests, admit waiting ones while slots are free
                for (int i = _running.Count - 1; i >= 0; i--)
                {
                    if (!_running[i].Request.IsCancelled) continue;
                    _session.Remove(_running[i].Sequence);
                    _running[i].Request.Output.Writer.TryComplete();
                    _running.RemoveAt(i);
                }
                while (_session.Active.Count < _session.MaxSequences && _waiting.Reader.TryRead(out var next))
                {
                    Interlocked.Decrement(ref _queued);
                    if (next.IsCancelled)
                    {
                        next.Output.Writer.TryComplete();
                        continue;
                    }
                    try
                    {
                        _running.Add((_session.Add(next.Prompt, next.Options), next));
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException)
                    {
                        next.Output.Writer.TryComplete(e);
                    }
                }
                Volatile.Write(ref _runningCount, _running.Count);
                if (_running.Count == 0)
                {
                    // idle: sleep until a request arrives
                    _waiting.Reader.WaitToReadAsync(token).AsTask().GetAwaiter().GetResult();
                    continue;
                }
                foreach (var step in _session.Step())
                {
                    int index = _running.FindIndex(r => r.Sequence == step.Sequence);
                    var (sequence, request) = _running[index];
                    request.Output.Writer.TryWrite(new GenerationUpdate(step.Text, step.Token, step.FinishReason, sequence.Prompt.Count, sequence.Generated.Count));
                    if (step.FinishReason is null) continue;
                    request.Output.Writer.TryComplete();
                    _running.RemoveAt(index);
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // a failing step fails every request in flight and every waiting one, never silently
            foreach (var (_, request) in _running) request.Output.Writer.TryComplete(e);
            _running.Clear();
            _waiting.Writer.TryComplete(e);
            while (_waiting.Reader.TryRead(out var waiting)) waiting.Output.Writer.TryComplete(e);
        }
    }

    public void Dispose()
    {
        _waiting.Writer.TryComplete();
        _stopping.Cancel();
        _thread.Join();
        foreach (var (_, request) in _running) request.Output.Writer.TryComplete(new ObjectDisposedException(nameof(GenerationEngine)));
        while (_waiting.Reader.TryRead(out var waiting)) waiting.Output.Writer.TryComplete(new ObjectDisposedException(nameof(GenerationEngine)));
        _session.Dispose();
        _stopping.Dispose();
    }

    private sealed class Request(int[] prompt, SamplingOptions options)
    {
        private int _cancelled;

        public int[] Prompt { get; } = prompt;
        public SamplingOptions Options { get; } = options;
        public Channel<GenerationUpdate> Output { get; } = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });
        public bool IsCancelled => Volatile.Read(ref _cancelled) != 0;
        public void Cancel() => Volatile.Write(ref _cancelled, 1);
    }
}
