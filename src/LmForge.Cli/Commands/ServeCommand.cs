using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using LmForge.Server;
using LmForge.Training.Checkpoints;

namespace LmForge.Cli.Commands;

/// <summary>
/// <c>lmforge serve</c>: starts LmForge.Server on a checkpoint (the OpenAI-compatible API under /v1, the web chat
/// page at / and the tokenizer page at /tokenizer) and serves until Ctrl+C or SIGTERM. <c>lmforge tokenizer serve</c>
/// runs the same server with a tokenizer and no model, through <see cref="ServeUntilStopped"/>.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint directory, or a run directory (its newest checkpoint)", Required = true };
        var host = new Option<string>("--host") { Description = "Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (every network) or localhost", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0 picks a free one)", DefaultValueFactory = _ => 8000 };
        var name = new Option<string?>("--model-name") { Description = "The model id clients ask for (default: the run's or checkpoint's directory name)" };
        var maxBatch = new Option<int>("--max-batch") { Description = "Requests decoded together at most (each holds a KV cache of the full context)", DefaultValueFactory = _ => 32 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a free slot; beyond that the server answers 429", DefaultValueFactory = _ => 256 };
        var command = new Command("serve", "Serve a checkpoint over HTTP: the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models), a web chat page at / and a tokenizer page at /tokenizer.")
        {
            checkpoint, host, port, name, maxBatch, queue,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            if (parse.GetValue(port) is < 0 or > 65535) throw new ArgumentException($"--port {parse.GetValue(port)} is not a port number (0 to 65535)");
            if (parse.GetValue(maxBatch) < 1) throw new ArgumentException($"--max-batch {parse.GetValue(maxBatch)}: expected at least 1");
            if (parse.GetValue(queue) < 1) throw new ArgumentException($"--queue {parse.GetValue(queue)}: expected at least 1");
            string directory = CheckpointDirectory.Resolve(parse.GetValue(checkpoint)!, TrainingCommands.IsModelDirectory);
            var model = ServedModel.Load(directory, parse.GetValue(name), parse.GetValue(maxBatch), parse.GetValue(queue));
            var options = new ServerOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port) };
            return ServeUntilStopped(() => ChatServer.StartAsync(model, options, Console.Out), server =>
            {
                var config = model.Model.Config;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Serving '{model.Name}' ({config.Summary}; {model.Model.ParameterCount / 1e6:F1}M parameters, {(model.ChatPrompt.IsChatModel ? "chat template" : "base model: chat replies continue the text")})"));
                Console.WriteLine($"  chat page: {server.Address}");
                Console.WriteLine($"  tokenizer page: {new Uri(server.Address, "tokenizer")} ({string.Join(", ", server.Tokenizers.Ids)})");
                Console.WriteLine($"  OpenAI API: {new Uri(server.Address, "v1")} (up to {model.Engine.MaxBatch} requests decode together)");
            }).GetAwaiter().GetResult();
        }));
        return command;
    }

    /// <summary>Starts the server, describes it, and serves until Ctrl+C or SIGTERM.</summary>
    public static async Task<int> ServeUntilStopped(Func<Task<ChatServer>> start, Action<ChatServer> describe)
    {
        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        Console.CancelKeyPress += onCancel;
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });
        try
        {
            await using var server = await start().ConfigureAwait(false);
            describe(server);
            Console.WriteLine("Ctrl+C stops the server.");
            await server.WaitForShutdownAsync(stop.Token).ConfigureAwait(false);
            Console.WriteLine("Stopping.");
            return 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
