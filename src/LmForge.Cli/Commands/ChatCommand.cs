using System.CommandLine;
using LmForge.Inference;
using LmForge.Models.Checkpoints;
using LmForge.Tensors.Cpu;
using LmForge.Training.Checkpoints;

namespace LmForge.Cli.Commands;

/// <summary>
/// <c>lmforge chat</c>: a multi-turn REPL over a checkpoint. Replies stream as they form; the history is rendered with
/// the chat template and its oldest turns are dropped (with a notice) to fit the context; Ctrl+C stops the reply being
/// written, not the program. Commands: /system TEXT, /clear, /temperature X, /max-tokens N, /quit.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory, or a run directory (its newest checkpoint)", Required = true };
        var temperature = new Option<float>("--temperature") { Description = "0 is greedy; higher is more random", DefaultValueFactory = _ => 0.7f };
        var topK = new Option<int>("--top-k") { Description = "Sample among the k most likely tokens (0: all)", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "Sample among the most likely tokens that make up this probability", DefaultValueFactory = _ => 1f };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Longest reply in tokens", DefaultValueFactory = _ => 256 };
        var system = new Option<string?>("--system") { Description = "A system message to start the conversation with" };
        var seed = new Option<ulong?>("--seed") { Description = "Fix the random seed to repeat replies" };
        var command = new Command("chat", "Talk to a checkpoint: a multi-turn conversation in the terminal (/system TEXT, /clear, /temperature X, /max-tokens N, /quit).")
        {
            checkpoint, temperature, topK, topP, maxTokens, system, seed,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, TrainingCommands.IsModelDirectory);
            var tokenizer = CheckpointTokenizer.Load(directory);
            using var model = ModelCheckpoint.Load(directory, CpuBackend.Shared, trainable: false);
            using var session = new InferenceSession(model, tokenizer);
            var conversation = new ChatConversation(tokenizer) { SystemMessage = parse.GetValue(system) };
            var options = new SamplingOptions(parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP), parse.GetValue(maxTokens), parse.GetValue(seed))
            {
                StopTokens = conversation.StopTokens,
            };
            options.Validate();
            return Run(session, conversation, options, Console.In, Console.Out);
        }));
        return command;
    }

    /// <summary>The REPL itself, on any reader and writer (a test drives it through pipes).</summary>
    internal static int Run(InferenceSession session, ChatConversation conversation, SamplingOptions options, TextReader input, TextWriter output)
    {
        output.WriteLine(conversation.IsChatModel
            ? $"Chatting with a {session.Capacity}-token context. Commands: /system TEXT, /clear, /temperature X, /max-tokens N, /quit. Ctrl+C stops a reply."
            : "This model has no chat tokens (<|im_start|>, <|im_sep|>, <|im_end|>): it is a base model, so replies are plain continuations of the conversation's text.");
        CancellationTokenSource? reply = null;
        ConsoleCancelEventHandler stopReply = (_, e) =>
        {
            var current = Volatile.Read(ref reply);
            if (current is null) return; // no reply in progress: Ctrl+C ends the program as usual
            e.Cancel = true;
            current.Cancel();
        };
        Console.CancelKeyPress += stopReply;
        try
        {
            while (true)
            {
                output.Write("> ");
                output.Flush();
                string? line = input.ReadLine();
                if (line is null || line.Trim() == "/quit") return 0;
                if (line.Trim().Length == 0) continue;
                if (line.StartsWith('/'))
                {
                    options = Command(line.Trim(), conversation, options, output);
                    continue;
                }
                conversation.AddUser(line);
                int[] prompt;
                try
                {
                    prompt = conversation.Prompt(session.Capacity, options.MaxTokens, out int dropped);
                    if (dropped > 0) output.WriteLine($"(dropped the {dropped} oldest message(s) to fit the {session.Capacity}-token context)");
                }
                catch (ArgumentException e)
                {
                    conversation.Clear();
                    output.WriteLine($"error: {e.Message}");
                    continue;
                }
                using var cancellation = new CancellationTokenSource();
                Volatile.Write(ref reply, cancellation);
                var text = new System.Text.StringBuilder();
                foreach (string piece in session.Stream(prompt, options, cancellation.Token))
                {
                    output.Write(piece);
                    output.Flush();
                    text.Append(piece);
                }
                Volatile.Write(ref reply, null);
                output.WriteLine(cancellation.IsCancellationRequested ? " [stopped]" : "");
                conversation.AddAssistant(text.ToString());
            }
        }
        finally
        {
            Console.CancelKeyPress -= stopReply;
        }
    }

    // A /command: returns the options to use from now on.
    private static SamplingOptions Command(string line, ChatConversation conversation, SamplingOptions options, TextWriter output)
    {
        int space = line.IndexOf(' ');
        string name = space < 0 ? line : line[..space];
        string argument = space < 0 ? "" : line[(space + 1)..].Trim();
        switch (name)
        {
            case "/system":
                conversation.SystemMessage = argument.Length == 0 ? null : argument;
                output.WriteLine(argument.Length == 0 ? "(system message removed)" : "(system message set)");
                return options;
            case "/clear":
                conversation.Clear();
                output.WriteLine("(conversation cleared)");
                return options;
            case "/temperature" when float.TryParse(argument, System.Globalization.CultureInfo.InvariantCulture, out float t) && t >= 0 && float.IsFinite(t):
                output.WriteLine($"(temperature {t})");
                return options with { Temperature = t };
            case "/max-tokens" when int.TryParse(argument, System.Globalization.CultureInfo.InvariantCulture, out int n) && n >= 1:
                output.WriteLine($"(replies up to {n} tokens)");
                return options with { MaxTokens = n };
            case "/temperature":
                output.WriteLine($"error: /temperature needs a number of 0 or more, got '{argument}'");
                return options;
            case "/max-tokens":
                output.WriteLine($"error: /max-tokens needs a whole number of 1 or more, got '{argument}'");
                return options;
            default:
                output.WriteLine($"error: unknown command {name}; commands: /system TEXT, /clear, /temperature X, /max-tokens N, /quit");
                return options;
        }
    }
}
