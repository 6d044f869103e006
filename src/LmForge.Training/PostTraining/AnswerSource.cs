using LmForge.Inference;
using LmForge.Models.Transformer;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;

namespace LmForge.Training.PostTraining;

/// <summary>
/// One question to answer: asked as a single user message, sampled at <see cref="Temperature"/> (0: greedy) from
/// <see cref="Seed"/>, at most <see cref="MaxTokens"/> tokens long. <see cref="Sample"/> numbers the answers drawn for
/// the same question (0, 1, ...).
/// </summary>
public sealed record AnswerRequest(string Question, int Sample, float Temperature, ulong Seed, int MaxTokens);

/// <summary>The reply to the request at index <see cref="Request"/> of the list given to <see cref="IAnswerSource.Answer"/>.</summary>
public readonly record struct AnswerReply(int Request, string Text);

/// <summary>
/// Where answers come from: a chat model (<see cref="ChatModelAnswers"/>), or in tests a script of fixed replies. The
/// knowledge probe and the hallucination eval depend only on this.
/// </summary>
public interface IAnswerSource
{
    /// <summary>Answers every request; replies come as they are ready, in any order, each once.</summary>
    IEnumerable<AnswerReply> Answer(IReadOnlyList<AnswerRequest> requests, CancellationToken cancellation = default);
}

/// <summary>
/// Answers with a chat model: each question is rendered as <c>[user: question]</c> by <see cref="ChatPrompt"/> and
/// continued until the reply's end token (for a model without the chat markers: the end of the line). Up to
/// <c>maxSequences</c> answers decode together in one <see cref="InferenceSession"/>: a new one joins as soon as
/// another finishes, so a long reply never holds the batch back.
/// </summary>
public sealed class ChatModelAnswers : IAnswerSource, IDisposable
{
    private readonly InferenceSession _session;
    private readonly ChatPrompt _prompt;

    /// <param name="capacity">Positions per sequence, the question and its reply together; default the model's context or 512, whichever is less.</param>
    public ChatModelAnswers(TransformerModel model, BpeTokenizer tokenizer, int maxSequences = 64, int? capacity = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (maxSequences < 1) throw new ArgumentOutOfRangeException(nameof(maxSequences), $"maxSequences {maxSequences} is invalid; expected at least 1");
        _prompt = new ChatPrompt(tokenizer);
        _session = new InferenceSession(model, tokenizer, maxSequences, capacity ?? Math.Min(model.Config.ContextLength, 512));
    }

    /// <summary>False for a base model (no chat markers): its replies are the continuation of the question's line.</summary>
    public bool IsChatModel => _prompt.IsChatModel;

    public IEnumerable<AnswerReply> Answer(IReadOnlyList<AnswerRequest> requests, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        var indexOf = new Dictionary<GenerationSequence, int>();
        int next = 0;
        try
        {
            while (next < requests.Count || indexOf.Count > 0)
            {
                cancellation.ThrowIfCancellationRequested();
                for (; next < requests.Count && _session.Active.Count < _session.MaxSequences; next++)
                {
                    int[] prompt = Prompt(requests[next]);
                    // the reply gets what room the context leaves, up to the requested length
                    int room = _session.Capacity - prompt.Length;
                    if (room <= 0)
                        throw new InvalidDataException($"the question \"{requests[next].Question}\" takes {prompt.Length} tokens as a prompt, which leaves no room for an answer in the model's context of {_session.Capacity}");
                    var sequence = _session.Add(prompt, Options(requests[next]) with { MaxTokens = Math.Min(requests[next].MaxTokens, room) });
                    if (sequence.IsFinished) yield return new AnswerReply(next, ""); // MaxTokens 0
                    else indexOf[sequence] = next;
                }
                foreach (var step in _session.Step())
                {
                    if (step.FinishReason is null) continue;
                    indexOf.Remove(step.Sequence, out int index);
                    yield return new AnswerReply(index, step.Sequence.Text.Trim());
                }
            }
        }
        finally
        {
            foreach (var sequence in indexOf.Keys) _session.Remove(sequence); // abandoned early: free the slots
        }
    }

    private int[] Prompt(AnswerRequest request) => _prompt.Render([new ChatMessage(ChatTemplate.User, request.Question)]);

    private SamplingOptions Options(AnswerRequest request) =>
        new(request.Temperature, MaxTokens: request.MaxTokens, Seed: request.Seed)
        {
            StopTokens = _prompt.StopTokens,
            StopStrings = _prompt.IsChatModel ? [] : ["\n"],
        };

    public void Dispose() => _session.Dispose();
}
