using System.Diagnostics;
using System.Net;
using System.Text;
using LmForge.Tests.Shared;

namespace LmForge.Server.Tests;

/// <summary>Clients that leave, a full queue, and a server that cannot start.</summary>
public class LifecycleTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static string LongReply(bool stream) =>
        $$"""{"model":"{{ServerFixture.ModelName}}","messages":[{"role":"user","content":"Tell me everything"}],"max_tokens":2000,"stream":{{(stream ? "true" : "false")}}}""";

    private static HttpRequestMessage Post(string body) =>
        new(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_frees_its_slot_at_once()
    {
        var watch = Stopwatch.StartNew();
        using (var response = await fixture.Client.SendAsync(Post(LongReply(stream: true)), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            for (int events = 0; events < 3;) if ((await reader.ReadLineAsync())!.StartsWith("data: ", StringComparison.Ordinal)) events++;
        } // disposing the response closes the connection
        Assert.True(await fixture.IdleWithinAsync(TimeSpan.FromSeconds(5)), "the request still decodes after its client left");
        var (status, _) = await fixture.PostAsync("/v1/chat/completions", $$"""{"model":"{{ServerFixture.ModelName}}","messages":[{"role":"user","content":"Hi"}],"max_tokens":2}""");
        Assert.Equal(200, status);
        // a 2,000-token reply takes this model far longer than the test's handful of events
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Events_leave_as_the_tokens_form_not_when_the_reply_is_done()
    {
        using var response = await fixture.Client.SendAsync(Post(LongReply(stream: true)), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var clock = Stopwatch.StartNew();
        var arrivals = new HashSet<long>(); // 5 ms buckets in which content events were read
        while (await reader.ReadLineAsync() is { } line && line != "data: [DONE]")
        {
            if (line.Contains("\"content\":", StringComparison.Ordinal)) arrivals.Add(clock.ElapsedMilliseconds / 5);
        }
        // a server that buffered the reply would deliver it in one or two reads
        Assert.True(arrivals.Count >= 5, $"a 2,000-token reply arrived in only {arrivals.Count} distinct 5 ms intervals over {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        string checkpoint = ChatCheckpoint.Create(Directory.CreateTempSubdirectory("lmforge-server-queue-").FullName);
        await using var server = await ChatServer.StartAsync(ServedModel.Load(checkpoint, ServerFixture.ModelName, maxBatch: 1, queueCapacity: 1), new ServerOptions { Port = 0 });
        using var client = new HttpClient { BaseAddress = server.Address };
        // one decoding, one waiting
        var running = await client.SendAsync(Post(LongReply(stream: true)), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, running.StatusCode);
        using var cancel = new CancellationTokenSource();
        var waiting = client.SendAsync(Post(LongReply(stream: false)), cancel.Token);
        while (server.Model.Engine.Waiting == 0) await Task.Delay(5);

        using var refused = await client.SendAsync(Post(LongReply(stream: false)));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter!.Delta);
        Assert.Contains("rate_limit_exceeded", await refused.Content.ReadAsStringAsync());

        // both clients leave: the waiting one gives up, the running one hangs up
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        running.Dispose();
        var deadline = Stopwatch.StartNew();
        while ((server.Model.Engine.Running > 0 || server.Model.Engine.Waiting > 0) && deadline.Elapsed < TimeSpan.FromSeconds(5)) await Task.Delay(10);
        Assert.Equal((0, 0), (server.Model.Engine.Running, server.Model.Engine.Waiting));
        Directory.Delete(checkpoint, recursive: true);
    }

    [Fact]
    public async Task A_taken_port_is_a_one_line_error()
    {
        var model = ServedModel.Load(fixture.Checkpoint, ServerFixture.ModelName, maxBatch: 1);
        var e = await Assert.ThrowsAsync<IOException>(() => ChatServer.StartAsync(model, new ServerOptions { Port = fixture.Server.Address.Port }));
        Assert.Equal($"cannot listen on 127.0.0.1:{fixture.Server.Address.Port}: the port is taken (is another server running there? choose another with --port)", e.Message);
    }

    [Fact]
    public void A_checkpoint_without_a_tokenizer_is_a_one_line_error()
    {
        string directory = Directory.CreateTempSubdirectory("lmforge-server-notokenizer-").FullName;
        foreach (string file in Directory.GetFiles(fixture.Checkpoint).Where(f => Path.GetFileName(f) != "tokenizer.json"))
            File.Copy(file, Path.Combine(directory, Path.GetFileName(file)));
        var e = Assert.ThrowsAny<IOException>(() => ServedModel.Load(directory));
        Assert.Contains("tokenizer.json: missing", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Directory.Delete(directory, recursive: true);
    }
}
