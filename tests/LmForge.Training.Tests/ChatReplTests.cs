using System.Diagnostics;
using System.Text;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tokenization.Training;
using LmForge.Training.Checkpoints;

namespace LmForge.Training.Tests;

/// <summary>
/// `lmforge chat` as a user drives it: the built tool in its own process, typed lines on its input, its output read as
/// it streams: two turns, commands, and Ctrl+C (SIGINT) in the middle of a long reply, which stops the reply and not
/// the program.
/// </summary>
public class ChatReplTests
{
    // A random chat model: a tokenizer with the chat markers and a Llama whose head never prefers a stop token, so
    // replies run to their length limit.
    static string ChatCheckpoint()
    {
        string directory = TestFiles.TemporaryDirectory("chat-checkpoint");
        var trained = new BpeTrainer(new BpeTrainerOptions { VocabSize = 320, Threads = 1, SpecialTokens = [BpeTrainerOptions.EndOfText, .. BpeTrainerOptions.ChatSpecialTokens] })
            .TrainOnTexts([string.Concat(Enumerable.Repeat("Hello there, how are you today? I am fine, thank you. ", 50))]);
        var tokenizer = trained.ToTokenizer();
        CheckpointTokenizer.Save(trained, directory);
        using var model = new TransformerModel(TransformerConfig.Llama(tokenizer.VocabularySize, 2048, 4, 4, 2, 128));
        model.InitializeWeights(seed: 3);
        var head = model.Backend.ToHost(model.GetParameter("lm_head.weight"));
        var random = new Random(3);
        for (int i = 0; i < head.Length; i++) head[i] = (float)(random.NextDouble() * 2 - 1);
        foreach (int stop in tokenizer.SpecialTokens.Values) Array.Clear(head, stop * 128, 128);
        model.Backend.CopyFromHost(model.GetParameter("lm_head.weight"), head);
        ModelCheckpoint.Save(model, directory);
        return directory;
    }

    [Fact]
    public async Task Two_turns_commands_and_ctrl_c_during_a_reply()
    {
        string tool = TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll");
        string checkpoint = ChatCheckpoint();
        var start = new ProcessStartInfo("dotnet", [tool, "chat", "--checkpoint", checkpoint, "--temperature", "0", "--max-tokens", "6"])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var reader = Task.Run(async () =>
        {
            var buffer = new char[256];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer)) > 0) lock (output) output.Append(buffer, 0, read);
        });
        var errors = process.StandardError.ReadToEndAsync();
        int seen = 0;
        async Task<string> Until(string marker)
        {
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(60))
            {
                lock (output)
                {
                    string text = output.ToString();
                    int at = text.IndexOf(marker, seen, StringComparison.Ordinal);
                    if (at >= 0)
                    {
                        string piece = text[seen..(at + marker.Length)];
                        seen = at + marker.Length;
                        return piece;
                    }
                }
                await Task.Delay(20);
            }
            throw new TimeoutException($"no '{marker}' after: {output}; errors: {(errors.IsCompleted ? errors.Result : "")}");
        }
        async Task Type(string line)
        {
            await process.StandardInput.WriteLineAsync(line);
            await process.StandardInput.FlushAsync();
        }

        Assert.Contains("Commands:", await Until("> "));
        await Type("Hello there");
        string first = await Until("> ");
        Assert.True(first.Trim().Length > 1, $"no reply: '{first}'");
        await Type("/temperature 0.5");
        Assert.Contains("(temperature 0.5)", await Until("> "));
        await Type("/bogus");
        Assert.Contains("unknown command /bogus", await Until("> "));
        await Type("How are you?");
        Assert.True((await Until("> ")).Trim().Length > 1);

        // a long reply, interrupted as soon as it starts streaming
        await Type("/max-tokens 1900");
        await Until("> ");
        await Type("Tell me everything");
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            lock (output) if (output.Length > seen + 5) break;
            await Task.Delay(10);
        }
        using (var signal = Process.Start("kill", ["-INT", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await signal.WaitForExitAsync();
        Assert.Contains("[stopped]", await Until("> "));
        await Type("/quit");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        await reader;
        Assert.Equal(0, process.ExitCode);
    }
}
