using System.Diagnostics;
using System.Text;
using LmForge.Tests.Shared;

namespace LmForge.Training.Tests;

/// <summary>
/// `lmforge chat` as a user drives it: the built tool in its own process, typed lines on its input, its output read as
/// it streams: two turns, commands, and Ctrl+C (SIGINT) in the middle of a long reply, which stops the reply and not
/// the program.
/// </summary>
public class ChatReplTests
{
    [Fact]
    public async Task Two_turns_commands_and_ctrl_c_during_a_reply()
    {
        string tool = TestFiles.BuiltProgram(Path.Combine("src", "LmForge.Cli"), "lmforge.dll");
        string checkpoint = ChatCheckpoint.Create(TestFiles.TemporaryDirectory("chat-checkpoint"));
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
