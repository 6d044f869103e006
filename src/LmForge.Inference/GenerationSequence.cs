using System.Text;
using LmForge.Tokenization;

namespace LmForge.Inference;

/// <summary>Why a sequence stopped generating.</summary>
public enum FinishReason
{
    /// <summary>It produced a stop token or a stop string.</summary>
    Stop,
    /// <summary>It produced <see cref="SamplingOptions.MaxTokens"/> tokens.</summary>
    MaxTokens,
    /// <summary>It filled the model's context (or the session's capacity): no further token can be computed.</summary>
    ContextFull,
}

/// <summary>
/// One prompt being continued in an <see cref="InferenceSession"/>: its tokens, its cache slot, its sampler and the
/// text produced so far. Text is released in whole UTF-8 characters, and held back while it could be the start of a
/// stop string, so a stop string split across tokens never reaches the output.
/// </summary>
public sealed class GenerationSequence
{
    private readonly StreamingTokenDecoder? _decoder;
    private readonly StringBuilder _text = new();
    private readonly bool[] _seen;
    private readonly List<int> _generated = [];
    private int _released;

    internal GenerationSequence(int id, int slot, IReadOnlyList<int> prompt, SamplingOptions options, BpeTokenizer? tokenizer, int vocabularySize)
    {
        Id = id;
        Slot = slot;
        Prompt = prompt;
        Options = options;
        Sampler = new TokenSampler(options, vocabularySize);
        _decoder = tokenizer?.CreateStreamingDecoder();
        _seen = new bool[vocabularySize];
        foreach (int token in prompt) _seen[token] = true;
    }

    /// <summary>Numbers sequences in the order they joined their session.</summary>
    public int Id { get; }

    public IReadOnlyList<int> Prompt { get; }

    public SamplingOptions Options { get; }

    /// <summary>The tokens generated so far (a stop token is not one of them).</summary>
    public IReadOnlyList<int> Generated => _generated;

    /// <summary>The text released so far.</summary>
    public string Text => _text.ToString(0, _released);

    /// <summary>Null while generating.</summary>
    public FinishReason? FinishReason { get; private set; }

    public bool IsFinished => FinishReason is not null;

    internal int Slot { get; }

    internal TokenSampler Sampler { get; }

    internal ReadOnlySpan<bool> Seen => _seen;

    /// <summary>Tokens in the cache: the prompt and every generated token fed back.</summary>
    internal int CachedLength { get; set; }

    /// <summary>The token to feed at the next step (the last one sampled), or -1 before the prefill.</summary>
    internal int PendingToken { get; set; } = -1;

    /// <summary>Takes a sampled token: returns the text it releases and finishes the sequence when a stop condition holds.</summary>
    internal string Accept(int token, int capacity)
    {
        if (Options.StopTokens.Contains(token))
        {
            FinishReason = Inference.FinishReason.Stop;
            return ReleaseRest();
        }
        _generated.Add(token);
        _seen[token] = true;
        PendingToken = token;
        if (_decoder is not null) _text.Append(_decoder.Append(token));
        if (MatchStopString(out int stopAt))
        {
            _text.Length = stopAt;
            FinishReason = Inference.FinishReason.Stop;
            return Release(stopAt);
        }
        if (_generated.Count >= Options.MaxTokens) FinishReason = Inference.FinishReason.MaxTokens;
        else if (CachedLength + 1 > capacity) FinishReason = Inference.FinishReason.ContextFull;
        if (IsFinished)
        {
            if (_decoder is not null) _text.Append(_decoder.Flush());
            if (MatchStopString(out stopAt))
            {
                _text.Length = stopAt;
                FinishReason = Inference.FinishReason.Stop;
            }
            return Release(_text.Length);
        }
        return Release(_text.Length - HeldBack());
    }

    internal void Finish(FinishReason reason) => FinishReason = reason;

    private string ReleaseRest()
    {
        if (_decoder is not null) _text.Append(_decoder.Flush());
        if (MatchStopString(out int stopAt)) _text.Length = stopAt;
        return Release(_text.Length);
    }

    private string Release(int upTo)
    {
        if (upTo <= _released) return "";
        string piece = _text.ToString(_released, upTo - _released);
        _released = upTo;
        return piece;
    }

    // The earliest stop string in the text not yet released (it may begin in held-back text).
    private bool MatchStopString(out int at)
    {
        at = -1;
        if (Options.StopStrings.Count == 0) return false;
        // released text never holds the start of a stop string (it was held back), so only the tail needs searching
        int longest = Options.StopStrings.Max(stop => stop.Length);
        int start = Math.Max(0, _released - longest + 1);
        string tail = _text.ToString(start, _text.Length - start);
        foreach (string stop in Options.StopStrings)
        {
            int index = tail.IndexOf(stop, Math.Max(0, _released - stop.Length + 1) - start, StringComparison.Ordinal);
            if (index >= 0 && (at < 0 || start + index < at)) at = start + index;
        }
        return at >= 0;
    }

    // The longest end of the text that could still grow into a stop string.
    private int HeldBack()
    {
        int longest = 0;
        foreach (string stop in Options.StopStrings)
        {
            for (int length = Math.Min(stop.Length - 1, _text.Length - _released); length > longest; length--)
            {
                bool prefix = true;
                for (int i = 0; i < length && prefix; i++) prefix = _text[_text.Length - length + i] == stop[i];
                if (prefix)
                {
                    longest = length;
                    break;
                }
            }
        }
        return longest;
    }
}
