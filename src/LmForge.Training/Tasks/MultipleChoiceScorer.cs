using LmForge.Models.Transformer;

namespace LmForge.Training.Tasks;

/// <summary>A multiple-choice example as token ids: the context's and each choice's, encoded separately (as llm.c does).</summary>
public sealed record TokenizedExample(int[] Context, IReadOnlyList<int[]> Choices, int Answer);

/// <summary>A choice's cross-entropy over its own tokens: the sum, and the mean per token (the sum / its token count).</summary>
public readonly record struct ChoiceScore(double Sum, double Mean, int Tokens);

/// <summary>
/// The scores of one example's choices and the two picks: <see cref="PickSum"/> the choice with the lowest summed loss
/// (acc), <see cref="PickMean"/> the lowest mean loss per token (acc_norm); ties go to the first.
/// </summary>
public sealed record ExampleScore(IReadOnlyList<ChoiceScore> Choices, int Answer)
{
    public int PickSum { get; } = ArgMin(Choices, c => c.Sum);

    public int PickMean { get; } = ArgMin(Choices, c => c.Mean);

    static int ArgMin(IReadOnlyList<ChoiceScore> choices, Func<ChoiceScore, double> value)
    {
        int best = 0;
        for (int i = 1; i < choices.Count; i++)
            if (value(choices[i]) < value(choices[best])) best = i;
        return best;
    }
}

/// <summary>
/// Scores multiple-choice examples at the token level with a decoder (GPT-2, Llama) or an encoder-decoder (T5).
/// A decoder reads each choice as one row, context + choice (the context cut from the left so the row fits the
/// model's context), and a choice's loss is the cross-entropy of predicting its tokens only. Several examples' rows
/// share a forward (<see cref="BatchSize"/> rows), padded on the right with ignored targets: causal attention never
/// lets a real position see the padding. An encoder-decoder reads the context as the encoder's input and each choice
/// as the decoder's targets, one example per forward (its rows share the input length, so the encoder needs no
/// padding mask; targets are padded with −1 on the right, behind the causal decoder). An encoder (BERT) scores a choice
/// by its pseudo-log-likelihood (Salazar et al. 2020): one row per choice token, context + choice with that token
/// replaced by [MASK], the loss of predicting it there; the sum over the choice's tokens is its score.
/// </summary>
public sealed class MultipleChoiceScorer
{
    readonly TransformerModel? _decoder;
    readonly EncoderDecoderModel? _encoderDecoder;
    readonly int _maskToken = -1;

    /// <summary>
    /// A decoder's scorer, or an encoder's given its [MASK] id (<paramref name="maskToken"/>; an encoder without one is
    /// refused); <paramref name="batchSize"/> rows per forward.
    /// </summary>
    public MultipleChoiceScorer(TransformerModel model, int batchSize = 8, int? maskToken = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!model.Config.Causal)
        {
            if (maskToken is not int mask || mask < 0 || mask >= model.Config.VocabSize)
                throw new ArgumentException($"multiple-choice scoring of an encoder ({model.Config.Family}) needs its tokenizer's [MASK] token (pseudo-log-likelihood scoring)");
            _maskToken = mask;
        }
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), $"batch size {batchSize} is invalid; expected at least 1 row per forward");
        _decoder = model;
        BatchSize = batchSize;
    }

    /// <summary>An encoder-decoder's scorer: one example (all its choices) per forward.</summary>
    public MultipleChoiceScorer(EncoderDecoderModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        _encoderDecoder = model;
        BatchSize = 1;
    }

    /// <summary>Rows per forward (a decoder's; an encoder-decoder runs one example per forward).</summary>
    public int BatchSize { get; }

    public TransformerConfig Config => _decoder?.Config ?? _encoderDecoder!.Config;

    /// <summary>Scores every example; <paramref name="progress"/> gets the number of examples scored so far after each forward.</summary>
    public IReadOnlyList<ExampleScore> Score(IReadOnlyList<TokenizedExample> examples, IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(examples);
        for (int i = 0; i < examples.Count; i++) Check(examples[i], i);
        if (_decoder is null) return ScoreEncoderDecoder(_encoderDecoder!, examples, progress);
        return _decoder.Config.Causal ? ScoreDecoder(_decoder, examples, progress) : ScoreEncoder(_decoder, examples, progress);
    }

    void Check(TokenizedExample example, int index)
    {
        int limit = Config.ContextLength;
        if (example.Context.Length == 0) throw new ArgumentException($"example {index}: the context has no tokens; a choice's first token needs one to follow");
        if (example.Choices.Count < 2) throw new ArgumentException($"example {index}: {example.Choices.Count} choices, expected at least 2");
        if (example.Answer < 0 || example.Answer >= example.Choices.Count) throw new ArgumentException($"example {index}: answer {example.Answer} is not one of its {example.Choices.Count} choices");
        for (int c = 0; c < example.Choices.Count; c++)
        {
            int length = example.Choices[c].Length;
            if (length == 0) throw new ArgumentException($"example {index}: choice {c} has no tokens");
            // a decoder needs one context token in the row before the choice; a decoder's targets fit its context
            int room = _decoder is not null ? limit - 1 : limit;
            if (length > room) throw new ArgumentException($"example {index}: choice {c} has {length} tokens, more than the {room} the model's context of {limit} leaves for it");
        }
    }

    // rows = (example, choice) in order, BatchSize rows per forward, each row context + choice with the context cut
    // from the left to fit; T is the longest row rounded up to 16 (few activation plans), capped at the context length.
    IReadOnlyList<ExampleScore> ScoreDecoder(TransformerModel model, IReadOnlyList<TokenizedExample> examples, IProgress<int>? progress)
    {
        var rows = new List<(int Example, int Choice)>();
        for (int e = 0; e < examples.Count; e++)
            for (int c = 0; c < examples[e].Choices.Count; c++) rows.Add((e, c));
        var scores = examples.Select(e => new ChoiceScore[e.Choices.Count]).ToArray();
        int contextLength = model.Config.ContextLength;
        for (int first = 0; first < rows.Count; first += BatchSize)
        {
            int b = Math.Min(BatchSize, rows.Count - first);
            int longest = 0;
            for (int r = 0; r < b; r++) longest = Math.Max(longest, RowLength(examples, rows[first + r], contextLength));
            int t = Math.Min(contextLength, (longest + 15) / 16 * 16);
            var tokens = new int[b * t];
            var targets = new int[b * t];
            Array.Fill(targets, -1);
            for (int r = 0; r < b; r++)
            {
                var (e, c) = rows[first + r];
                int[] choice = examples[e].Choices[c];
                int[] context = examples[e].Context;
                int kept = Math.Min(context.Length, contextLength - choice.Length);
                var row = tokens.AsSpan(r * t, t);
                context.AsSpan(context.Length - kept).CopyTo(row);
                // the inputs are context + choice without its last token (only ever a target); the padding reads token 0
                choice.AsSpan(0, choice.Length - 1).CopyTo(row[kept..]);
                // choice token j sits at kept + j and is predicted at the position before it
                choice.AsSpan().CopyTo(targets.AsSpan(r * t + kept - 1, choice.Length));
            }
            model.Forward(tokens, targets, b, t);
            var losses = new float[b * t];
            model.CopyTokenLosses(losses);
            for (int r = 0; r < b; r++)
            {
                var (e, c) = rows[first + r];
                int[] choice = examples[e].Choices[c];
                int kept = Math.Min(examples[e].Context.Length, contextLength - choice.Length);
                scores[e][c] = Sum(losses.AsSpan(r * t + kept - 1, choice.Length));
            }
            // examples whose last row was in this forward are done
            progress?.Report(first + b == rows.Count ? examples.Count : rows[first + b].Example);
        }
        return examples.Select((e, i) => new ExampleScore(scores[i], e.Answer)).ToArray();
    }

    // rows = (example, choice, token) in order, up to BatchSize rows of one length per forward (no padding): context (cut
    // from the left) + the choice with token j masked, the target the original token there and −1 elsewhere; a choice's
    // score sums its tokens' losses.
    IReadOnlyList<ExampleScore> ScoreEncoder(TransformerModel model, IReadOnlyList<TokenizedExample> examples, IProgress<int>? progress)
    {
        var rows = new List<(int Example, int Choice, int Token)>();
        for (int e = 0; e < examples.Count; e++)
            for (int c = 0; c < examples[e].Choices.Count; c++)
                for (int j = 0; j < examples[e].Choices[c].Length; j++) rows.Add((e, c, j));
        var sums = examples.Select(e => new double[e.Choices.Count]).ToArray();
        int contextLength = model.Config.ContextLength;
        // bidirectional attention would read any padding, so a forward takes consecutive rows of one length only
        int RowLength((int Example, int Choice, int Token) row)
        {
            var example = examples[row.Example];
            int choice = example.Choices[row.Choice].Length;
            return Math.Min(example.Context.Length, contextLength - choice) + choice;
        }
        for (int first = 0, b; first < rows.Count; first += b)
        {
            int t = RowLength(rows[first]);
            b = 1;
            while (b < BatchSize && first + b < rows.Count && RowLength(rows[first + b]) == t) b++;
            var tokens = new int[b * t];
            var targets = new int[b * t];
            Array.Fill(targets, -1);
            var masked = new int[b];
            for (int r = 0; r < b; r++)
            {
                var (e, c, j) = rows[first + r];
                int[] choice = examples[e].Choices[c], context = examples[e].Context;
                int kept = Math.Min(context.Length, contextLength - choice.Length);
                var row = tokens.AsSpan(r * t, t);
                context.AsSpan(context.Length - kept).CopyTo(row);
                choice.AsSpan().CopyTo(row[kept..]);
                masked[r] = (r * t) + kept + j;
                tokens[masked[r]] = _maskToken;
                targets[masked[r]] = choice[j];
            }
            model.Forward(tokens, targets, b, t);
            var losses = new float[b * t];
            model.CopyTokenLosses(losses);
            for (int r = 0; r < b; r++) sums[rows[first + r].Example][rows[first + r].Choice] += losses[masked[r]];
            progress?.Report(first + b == rows.Count ? examples.Count : rows[first + b].Example);
        }
        return examples.Select((e, i) => new ExampleScore(
            [.. e.Choices.Select((choice, c) => new ChoiceScore(sums[i][c], sums[i][c] / choice.Length, choice.Length))], e.Answer)).ToArray();
    }

    // a row holds the inputs context + choice without its last token (which is only a target)
    static int RowLength(IReadOnlyList<TokenizedExample> examples, (int Example, int Choice) row, int contextLength)
    {
        var example = examples[row.Example];
        int choice = example.Choices[row.Choice].Length;
        return Math.Min(example.Context.Length, contextLength - choice) + choice - 1;
    }

    static IReadOnlyList<ExampleScore> ScoreEncoderDecoder(EncoderDecoderModel model, IReadOnlyList<TokenizedExample> examples, IProgress<int>? progress)
    {
        var results = new ExampleScore[examples.Count];
        int contextLength = model.Config.ContextLength;
        for (int e = 0; e < examples.Count; e++)
        {
            var example = examples[e];
            int b = example.Choices.Count;
            int[] context = example.Context;
            int te = Math.Min(context.Length, contextLength);
            int td = example.Choices.Max(c => c.Length);
            var inputs = new int[b * te];
            var targets = new int[b * td];
            Array.Fill(targets, -1);
            for (int c = 0; c < b; c++)
            {
                context.AsSpan(context.Length - te).CopyTo(inputs.AsSpan(c * te, te));
                example.Choices[c].AsSpan().CopyTo(targets.AsSpan(c * td));
            }
            model.Forward(inputs, targets, b, te);
            var losses = new float[b * td];
            model.CopyTokenLosses(losses);
            var scores = new ChoiceScore[b];
            for (int c = 0; c < b; c++) scores[c] = Sum(losses.AsSpan(c * td, example.Choices[c].Length));
            results[e] = new ExampleScore(scores, example.Answer);
            progress?.Report(e + 1);
        }
        return results;
    }

    static ChoiceScore Sum(ReadOnlySpan<float> losses)
    {
        double sum = 0;
        foreach (float loss in losses) sum += loss;
        return new ChoiceScore(sum, sum / losses.Length, losses.Length);
    }
}
