using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using LmForge.Tokenization.Chat;

namespace LmForge.Server.Tests;

/// <summary>The API's shapes, whole and streamed, and that the server says what the library says.</summary>
public class ChatApiTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string TwoTurns = """
        [{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there"},{"role":"assistant","content":"I am fine"},{"role":"user","content":"How are you today?"}]
        """;

    private string LibraryReply(IReadOnlyList<ChatMessage> messages, int maxTokens) => fixture.LibraryReply(messages, maxTokens);

    private static ChatMessage[] Parse(string messages) =>
        [.. JsonDocument.Parse(messages).RootElement.EnumerateArray().Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))];

    [Fact]
    public async Task A_greedy_chat_completion_is_the_library_reply_with_usage()
    {
        var (status, body) = await fixture.PostAsync("/v1/chat/completions",
            $$"""{"model":"{{ServerFixture.ModelName}}","messages":{{TwoTurns}},"temperature":0,"max_tokens":12}""");
        Assert.Equal(200, status);
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        Assert.StartsWith("chatcmpl-", body.GetProperty("id").GetString());
        Assert.Equal(ServerFixture.ModelName, body.GetProperty("model").GetString());
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(LibraryReply(Parse(TwoTurns), 12), choice.GetProperty("message").GetProperty("content").GetString());
        var usage = body.GetProperty("usage");
        Assert.Equal(12, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(fixture.PromptTokens(Parse(TwoTurns)), usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + 12, usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task A_streamed_reply_arrives_in_chunks_that_add_up_to_the_whole_one_then_usage_then_done()
    {
        string request = $$$"""{"model":"{{{ServerFixture.ModelName}}}","messages":{{{TwoTurns}}},"temperature":0,"max_tokens":10,"stream":true,"stream_options":{"include_usage":true}}""";
        using var response = await fixture.Client.PostAsync("/v1/chat/completions", new StringContent(request, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = ServerFixture.Events(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", events[^1]);
        var chunks = events[..^1].Select(e => JsonDocument.Parse(e).RootElement).ToList();
        Assert.All(chunks, c => Assert.Equal("chat.completion.chunk", c.GetProperty("object").GetString()));
        Assert.Single(chunks.Select(c => c.GetProperty("id").GetString()).Distinct());
        Assert.Equal("assistant", chunks[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        var deltas = chunks.Where(c => c.GetProperty("choices").GetArrayLength() == 1)
            .Select(c => c.GetProperty("choices")[0]).ToList();
        Assert.True(deltas.Count >= 5, $"{deltas.Count} chunks for 10 tokens: the reply did not stream");
        string text = string.Concat(deltas.Select(d => d.GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : ""));
        Assert.Equal(LibraryReply(Parse(TwoTurns), 10), text);
        Assert.Equal("length", deltas[^1].GetProperty("finish_reason").GetString());
        Assert.All(deltas[..^1], d => Assert.Equal(JsonValueKind.Null, d.GetProperty("finish_reason").ValueKind));
        var usage = chunks[^1];
        Assert.Equal(0, usage.GetProperty("choices").GetArrayLength());
        Assert.Equal(10, usage.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    [Fact]
    public async Task Concurrent_requests_share_the_batch_and_each_gets_its_own_reply()
    {
        string[] questions = ["Hello there", "How are you today?", "I am fine", "thank you", "Hello", "you are fine"];
        var replies = await Task.WhenAll(questions.Select(async q =>
        {
            var (status, body) = await fixture.PostAsync("/v1/chat/completions",
                $$"""{"model":"{{ServerFixture.ModelName}}","messages":[{"role":"user","content":"{{q}}"}],"temperature":0,"max_tokens":8}""");
            Assert.Equal(200, status);
            return body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString();
        }));
        for (int i = 0; i < questions.Length; i++)
            Assert.Equal(LibraryReply([new ChatMessage("user", questions[i])], 8), replies[i]);
    }

    [Fact]
    public async Task A_seeded_sample_repeats_and_a_stop_string_ends_the_reply_before_it()
    {
        string Request(string extra) => $$"""{"model":"{{ServerFixture.ModelName}}","messages":[{"role":"user","content":"Hello"}],"temperature":1,"max_tokens":40,"seed":7{{extra}}}""";
        var (_, first) = await fixture.PostAsync("/v1/chat/completions", Request(""));
        var (_, second) = await fixture.PostAsync("/v1/chat/completions", Request(""));
        string text = first.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;
        Assert.Equal(text, second.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());

        string stop = text.Trim().Length >= 6 ? text.Trim()[3..6] : throw new InvalidOperationException($"reply too short: '{text}'");
        var (status, stopped) = await fixture.PostAsync("/v1/chat/completions", Request($$""","stop":["zzzz", {{JsonSerializer.Serialize(stop)}}]"""));
        Assert.Equal(200, status);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], stopped.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", stopped.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task A_text_completion_whole_and_streamed()
    {
        var (status, body) = await fixture.PostAsync("/v1/completions", $$"""{"model":"{{ServerFixture.ModelName}}","prompt":"Hello there","temperature":0}""");
        Assert.Equal(200, status);
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal(GenerationRequestReader.CompletionDefaultMaxTokens, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        string text = body.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.NotEmpty(text);

        using var response = await fixture.Client.PostAsync("/v1/completions",
            new StringContent($$"""{"model":"{{ServerFixture.ModelName}}","prompt":"Hello there","temperature":0,"stream":true}""", Encoding.UTF8, "application/json"));
        var events = ServerFixture.Events(await response.Content.ReadAsStringAsync());
        Assert.Equal("[DONE]", events[^1]);
        Assert.Equal(text, string.Concat(events[..^1].Select(e => JsonDocument.Parse(e).RootElement.GetProperty("choices")[0].GetProperty("text").GetString())));
    }

    [Fact]
    public async Task Models_health_and_the_chat_page()
    {
        var models = await fixture.Client.GetFromJsonAsync<JsonElement>("/v1/models");
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.Equal(ServerFixture.ModelName, models.GetProperty("data")[0].GetProperty("id").GetString());
        var model = await fixture.Client.GetFromJsonAsync<JsonElement>($"/v1/models/{ServerFixture.ModelName}");
        Assert.Equal("model", model.GetProperty("object").GetString());
        var health = await fixture.Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(2048, health.GetProperty("context").GetInt32());

        using var page = await fixture.Client.GetAsync("/");
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("connect-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<html", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/", "", StringComparison.Ordinal));
        Assert.DoesNotContain("https://", html);
    }
}
