using System.Runtime.InteropServices;
using LmForge.Models.Transformer;
using LmForge.Tokenization;

namespace LmForge.Inference;

/// <summary>What one step did for one sequence: the token it sampled (-1 when it stopped on a stop token), the text that token released, and whether it finished.</summary>
public readonly record struct SequenceStep(GenerationSequence Sequence, int Token, string Text, FinishReason? FinishReason);

/// <summary>
/// Generation with a KV cache over one shared model. A session holds up to <see cref="MaxSequences"/> sequences, each
/// in a slot of its own cache. <see cref="Step"/> runs one batched forward pass that prefills every sequence added
/// since the last step (its whole prompt at once) and decodes one token for every other active sequence, then samples
/// a token for each; sequences join (<see cref="Add(IReadOnlyList{int}, SamplingOptions)"/>) and leave
/// (<see cref="Remove"/>, or by finishing) between steps, which is what a server's continuous batching needs. The
/// model is only read, so any number of sessions may share one model from different threads; one session is used by
/// one thread at a time.
/// </summary>
/// <example>
/// <code>
/// using var session = new InferenceSession(model, tokenizer, maxSequences: 4);
/// foreach (string piece in session.Stream("The jury said", new SamplingOptions(Temperature: 0.8f, TopK: 40))) Console.Write(piece);
/// </code>
/// </example>
public sealed class InferenceSession : IDisposable
{
    private readonly TransformerModel _model;
    private readonly BpeTokenizer? _tokenizer;
    private readonly KeyValueCache _cache;
    private readonly GenerationSequence?[] _slots;
    private readonly List<GenerationSequence> _active = [];
    private readonly List<int> _tokens = [], _rowSlots = [], _positions = [], _logitRows = [];
    private readonly List<GenerationSequence> _stepSequences = [];
    private readonly List<SequenceStep> _results = [];
    private float[] _logits = [];
    private int _nextId;
    private int _busy;
    private bool _disposed;

    /// <param name="tokenizer">Turns tokens into text (and text prompts into tokens); null for a session of token ids only (no text, no stop strings).</param>
    /// <param name="capacity">Positions per sequence (prompt and generated tokens); default the model's context length.</param>
    public InferenceSession(TransformerModel model, BpeTokenizer? tokenizer, int maxSequences = 1, int? capacity = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (tokenizer is not null && tokenizer.VocabularySize != model.Config.VocabSize)
            throw new ArgumentException($"the tokenizer has {tokenizer.VocabularySize} tokens but the model {model.Config.VocabSize}; they do not belong together", nameof(tokenizer));
        _model = model;
        _tokenizer = tokenizer;
        _cache = model.CreateCache(maxSequences, capacity);
        _slots = new GenerationSequence?[maxSequences];
    }

    public int MaxSequences => _slots.Length;

    /// <summary>Positions per sequence: the prompt and its generated tokens together.</summary>
    public int Capacity => _cache.Capacity;

    /// <summary>KV cache memory per token of a sequence.</summary>
    public long CacheBytesPerToken => _cache.BytesPerToken;

    /// <summary>The sequences that have not finished, in the order they joined.</summary>
    public IReadOnlyList<GenerationSequence> Active => _active;

    /// <summary>Adds a prompt given as text (encoded as ordinary text: special-token names in it are plain text).</summary>
    public GenerationSequence Add(string prompt, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        if (_tokenizer is null) throw new InvalidOperationException("this session has no tokenizer: give the prompt as token ids");
        return Add(_tokenizer.EncodeOrdinary(prompt), options);
    }

    /// <summary>
    /// Adds a prompt; it is prefilled, and its first token sampled, at the next <see cref="Step"/>. Throws when the
    /// session is full, the prompt is empty, too long for <see cref="Capacity"/>, or holds ids outside the vocabulary.
    /// </summary>
    public GenerationSequence Add(IReadOnlyList<int> prompt, SamplingOptions options)
    {
        Check(prompt, options);
        int slot = Array.IndexOf(_slots, null);
        if (slot < 0) throw new InvalidOperationException($"the session is full ({MaxSequences} sequences); remove or finish one first");
        var sequence = new GenerationSequence(_nextId++, slot, [.. prompt], options, _tokenizer, _model.Config.VocabSize);
        _slots[slot] = sequence;
        _active.Add(sequence);
        if (options.MaxTokens == 0) Leave(sequence, FinishReason.MaxTokens);
        return sequence;
    }

    /// <summary>Throws what <see cref="Add(IReadOnlyList{int}, SamplingOptions)"/> would for this prompt and these options (a full session aside).</summary>
    internal void Check(IReadOnlyList<int> prompt, SamplingOptions options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompt.Count == 0)
            throw new ArgumentException("the prompt has no tokens; give at least one (a base model can start from the end-of-text token)", nameof(prompt));
        if (prompt.Count > Capacity)
            throw new ArgumentException($"the prompt has {prompt.Count} tokens but a sequence holds at most {Capacity} (the model's context); shorten the prompt", nameof(prompt));
        for (int i = 0; i < prompt.Count; i++)
        {
            if ((uint)prompt[i] >= (uint)_model.Config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(prompt), $"prompt token {i} is {prompt[i]}, outside the vocabulary [0, {_model.Config.VocabSize})");
        }
        if (_tokenizer is null && options.StopStrings.Count > 0)
            throw new ArgumentException("stop strings need a session with a tokenizer (they are matched on the text)", nameof(options));
        foreach (int stop in options.StopTokens)
        {
            if ((uint)stop >= (uint)_model.Config.VocabSize)
                throw new ArgumentOutOfRangeException(nameof(options), $"stop token {stop} is outside the vocabulary [0, {_model.Config.VocabSize})");
        }
    }

    /// <summary>Takes a sequence out of the session (finished or not), freeing its slot for another.</summary>
    public void Remove(GenerationSequence sequence)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (sequence.Slot < _slots.Length && _slots[sequence.Slot] == sequence) _slots[sequence.Slot] = null;
        _active.Remove(sequence);
    }

    /// <summary>
    /// One step for every active sequence: one forward pass over the new prompts and the last sampled tokens, then a
    /// sampled token each. Returns what each sequence did; finished sequences leave the session (their slots free).
    /// </summary>
    public IReadOnlyList<SequenceStep> Step()
    {
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("the session is already stepping on another thread; a session is used by one thread at a time");
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _results.Clear();
            if (_active.Count == 0) return _results;
            _tokens.Clear(); _rowSlots.Clear(); _positions.Clear(); _logitRows.Clear(); _stepSequences.Clear();
            foreach (var sequence in _active)
            {
                if (sequence.PendingToken < 0)
                {
                    for (int i = 0; i < sequence.Prompt.Count; i++) AddRow(sequence.Prompt[i], sequence.Slot, i);
                    sequence.CachedLength = sequence.Prompt.Count;
                }
                else
                {
                    AddRow(sequence.PendingToken, sequence.Slot, sequence.CachedLength);
                    sequence.CachedLength++;
                }
                _logitRows.Add(_tokens.Count - 1);
                _stepSequences.Add(sequence);
            }
            int v = _model.Config.VocabSize;
            if (_logits.Length < _logitRows.Count * v) _logits = new float[_logitRows.Count * v];
            _model.ForwardCached(_cache, CollectionsMarshal.AsSpan(_tokens), CollectionsMarshal.AsSpan(_rowSlots), CollectionsMarshal.AsSpan(_positions),
                CollectionsMarshal.AsSpan(_logitRows), _logits.AsSpan(0, _logitRows.Count * v));
            for (int i = 0; i < _stepSequences.Count; i++)
            {
                var sequence = _stepSequences[i];
                int token = sequence.Sampler.Sample(_logits.AsSpan(i * v, v), sequence.Seen);
                string text = sequence.Accept(token, Capacity);
                bool stopToken = sequence.Options.StopTokens.Contains(token); // a stop token ends the sequence without joining it
                _results.Add(new SequenceStep(sequence, stopToken ? -1 : token, text, sequence.FinishReason));
                if (sequence.IsFinished) Leave(sequence, sequence.FinishReason!.Value);
            }
            return _results;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Generates from one prompt alone and yields its text as it forms (whole UTF-8 characters).</summary>
    public IEnumerable<string> Stream(string prompt, SamplingOptions options, CancellationToken cancellation = default)
    {
        var sequence = Add(prompt, options);
        return StreamSequence(sequence, cancellation);
    }

    /// <summary>Generates from one prompt (token ids) alone and yields its text as it forms.</summary>
    public IEnumerable<string> Stream(IReadOnlyList<int> prompt, SamplingOptions options, CancellationToken cancellation = default)
    {
        var sequence = Add(prompt, options);
        return StreamSequence(sequence, cancellation);
    }

    private IEnumerable<string> StreamSequence(GenerationSequence sequence, CancellationToken cancellation)
    {
        try
        {
            while (!sequence.IsFinished && !cancellation.IsCancellationRequested)
            {
                foreach (var step in Step())
                {
                    if (step.Sequence == sequence && step.Text.Length > 0) yield return step.Text;
                }
            }
        }
        finally
        {
            Remove(sequence);
        }
    }

    private void AddRow(int token, int slot, int position)
    {
        _tokens.Add(token);
        _rowSlots.Add(slot);
        _positions.Add(position);
    }

    private void Leave(GenerationSequence sequence, FinishReason reason)
    {
        sequence.Finish(reason);
        _slots[sequence.Slot] = null;
        _active.Remove(sequence);
    }

    /// <summary>Frees the cache. Disposing while another thread is inside <see cref="Step"/> is an error, not a wait.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        if (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            throw new InvalidOperationException("the session is stepping on another thread; stop decoding before disposing it");
        _disposed = true;
        _cache.Dispose();
        Volatile.Write(ref _busy, 0);
    }
}
