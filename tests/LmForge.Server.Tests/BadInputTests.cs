using System.Net;
using System.Text;
using System.Text.Json;

namespace LmForge.Server.Tests;

/// <summary>Every kind of bad request gets a 4xx with OpenAI's error JSON naming the problem, and the server keeps serving.</summary>
public class BadInputTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Model = ServerFixture.ModelName;
    private const string Hello = """[{"role":"user","content":"Hello"}]""";

    public static TheoryData<string, string, int, string?, string> Requests => new()
    {
        // path, body, status, param, a piece of the message
        { "/v1/chat/completions", """{"model":"test-chat","messages":[{"role":"user","content":"Hello"}""", 400, null, "not valid JSON" },
        { "/v1/chat/completions", "", 400, null, "empty" },
        { "/v1/chat/completions", "[1,2]", 400, null, "must be a JSON object" },
        { "/v1/chat/completions", $$"""{"messages":{{Hello}}}""", 400, "model", "model" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}"}""", 400, "messages", "messages" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[]}""", 400, "messages", "empty" },
        { "/v1/chat/completions", $$"""{"model":"gpt-4o","messages":{{Hello}}}""", 404, "model", "gpt-4o" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":"Hello"}""", 400, "messages", "expected an array" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"wizard","content":"Hello"}]}""", 400, "messages[0].role", "unknown role 'wizard'" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"a"},{"role":"user"}]}""", 400, "messages[1].content", "missing content" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":42}]}""", 400, "messages[0].content", "the number 42" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"temperature":"hot"}""", 400, "temperature", "expected a number" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"temperature":2.5}""", 400, "temperature", "between 0 and 2" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"top_p":1.5}""", 400, "top_p", "between 0 and 1" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"max_tokens":-5}""", 400, "max_tokens", "at least 1" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"max_completion_tokens":1.5}""", 400, "max_completion_tokens", "expected an integer" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"max_tokens":5000}""", 400, "messages", "maximum context length is 2048 tokens" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"stop":["a","b","c","d","e"]}""", 400, "stop", "at most 4" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"stop":7}""", 400, "stop", "expected a string or an array" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"stream":"yes"}""", 400, "stream", "expected true or false" },
        { "/v1/chat/completions", $$$"""{"model":"{{{Model}}}","messages":{{{Hello}}},"stream_options":{"include_usage":true}}""", 400, "stream_options", "only allowed when stream is true" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"n":3}""", 400, "n", "n must be 1" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"seed":"x"}""", 400, "seed", "expected an integer" },
        { "/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"presence_penalty":0.5}""", 400, "presence_penalty", "repetition_penalty" },
        { "/v1/completions", $$$"""{"model":"{{{Model}}}","prompt":{"text":"x"}}""", 400, "prompt", "expected a string or an array of token ids" },
        { "/v1/completions", $$"""{"model":"{{Model}}","prompt":[1, 99999]}""", 400, "prompt", "token id" },
        { "/v1/completions", $$"""{"model":"{{Model}}","prompt":["one","two"]}""", 400, "prompt", "one prompt per request" },
        { "/v1/completions", $$"""{"model":"{{Model}}","prompt":"x","echo":true}""", 400, "echo", "echo" },
        { "/v1/nothing", "{}", 404, null, "no such endpoint" },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Is_refused_with_an_OpenAI_error(string path, string body, int status, string? param, string message)
    {
        var (actual, json) = await fixture.PostAsync(path, body);
        AssertError(json, actual, status, param, message);
        await AssertStillServing();
    }

    [Fact]
    public async Task Ten_thousand_messages()
    {
        string messages = string.Join(",", Enumerable.Repeat("""{"role":"user","content":"hi"}""", 10_000));
        var (status, json) = await fixture.PostAsync("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{{messages}}]}""");
        AssertError(json, status, 400, "messages", "10000 messages");
        await AssertStillServing();
    }

    [Fact]
    public async Task A_prompt_longer_than_the_context_names_both_counts()
    {
        string longText = string.Concat(Enumerable.Repeat("Hello there, how are you today? ", 600));
        var (status, json) = await fixture.PostAsync("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":[{"role":"user","content":"{{longText}}"}]}""");
        AssertError(json, status, 400, "messages", "maximum context length is 2048 tokens");
        Assert.Matches(@"resulted in \d{4,} tokens", json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal("context_length_exceeded", json.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Ten_megabytes_whether_announced_or_chunked()
    {
        byte[] big = Encoding.ASCII.GetBytes("{\"model\":\"test-chat\",\"messages\":[{\"role\":\"user\",\"content\":\"" + new string('a', 10 << 20) + "\"}]}");
        // announced (refused before the upload when the client asks first, as curl does) or chunked
        foreach (var (chunked, askFirst) in new[] { (false, false), (false, true), (true, false) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StreamContent(new MemoryStream(big)) };
            if (chunked) request.Headers.TransferEncodingChunked = true;
            else request.Content.Headers.ContentLength = big.Length;
            request.Headers.ExpectContinue = askFirst;
            using var response = await fixture.Client.SendAsync(request);
            AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, (int)response.StatusCode, 413, null, "limit");
        }
        await AssertStillServing();
    }

    [Fact]
    public async Task Bytes_that_are_not_UTF8()
    {
        byte[] body = [.. Encoding.ASCII.GetBytes("{\"model\":\"test-chat\",\"messages\":[{\"role\":\"user\",\"content\":\""), 0xC3, 0x28, 0xFF, .. Encoding.ASCII.GetBytes("\"}]}")];
        using var response = await fixture.Client.PostAsync("/v1/chat/completions", new ByteArrayContent(body));
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, (int)response.StatusCode, 400, null, "not valid UTF-8");
        await AssertStillServing();
    }

    [Fact]
    public async Task A_wrong_method()
    {
        using var response = await fixture.Client.GetAsync("/v1/chat/completions");
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, (int)response.StatusCode, 405, null, "method not allowed");
    }

    private static void AssertError(JsonElement json, int actual, int status, string? param, string message)
    {
        Assert.True(actual == status, $"status {actual}, expected {status}: {json}");
        var error = json.GetProperty("error");
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());
        Assert.True(error.TryGetProperty("code", out _));
    }

    private async Task AssertStillServing()
    {
        var (status, json) = await fixture.PostAsync("/v1/chat/completions", $$"""{"model":"{{Model}}","messages":{{Hello}},"max_tokens":2}""");
        Assert.True(status == (int)HttpStatusCode.OK, json.ToString());
    }
}
