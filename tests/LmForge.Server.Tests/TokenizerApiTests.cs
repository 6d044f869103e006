using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using LmForge.Inference;
using LmForge.Tokenization;
using LmForge.Tokenization.Chat;
using Xunit.Abstractions;

namespace LmForge.Server.Tests;

/// <summary>/v1/tokenize, /v1/detokenize and /v1/tokenize/encodings say what the library says, and refuse bad requests as the rest of the API does.</summary>
public class TokenizerApiTests(TokenizerFixture fixture, ITestOutputHelper output) : IClassFixture<TokenizerFixture>
{
    private const string Text = "Hello there, how are you today?\n\tnaïve café 🙂 €5 — 東京";

    public static TheoryData<string> Encodings => ["model", "gpt2", "cl100k_base", "o200k_base"];

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task Ids_are_the_library_ids_and_the_pieces_add_up_to_the_text(string encoding)
    {
        var tokenizer = fixture.Tokenizer(encoding);
        var (status, body) = await fixture.PostAsync("/v1/tokenize", new { text = Text, encoding });
        Assert.True(status == 200, body.ToString());
        Assert.Equal("tokenization", body.GetProperty("object").GetString());
        Assert.Equal(encoding, body.GetProperty("encoding").GetString());
        int[] ids = Ids(body);
        Assert.Equal(tokenizer.Encode(Text), ids);
        var tokens = body.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(ids, tokens.Select(t => t.GetProperty("id").GetInt32()));
        Assert.Equal(Encoding.UTF8.GetBytes(Text), tokens.SelectMany(Bytes).ToArray());
        var counts = body.GetProperty("counts");
        Assert.Equal(Text.EnumerateRunes().Count(), counts.GetProperty("characters").GetInt32());
        Assert.Equal(Encoding.UTF8.GetByteCount(Text), counts.GetProperty("bytes").GetInt32());
        Assert.Equal(ids.Length, counts.GetProperty("tokens").GetInt32());
    }

    [Theory]
    [InlineData("model")]
    [InlineData("gpt2")]
    public async Task A_character_split_across_tokens_is_shown_as_its_bytes(string encoding)
    {
        // the test tokenizer learnt English only: 🙂 is four byte tokens; gpt2 cuts it in two
        var (status, body) = await fixture.PostAsync("/v1/tokenize", new { text = "🙂", encoding });
        Assert.Equal(200, status);
        var tokens = body.GetProperty("tokens").EnumerateArray().ToList();
        Assert.True(tokens.Count >= 2, body.ToString());
        Assert.All(tokens, t => Assert.Equal(JsonValueKind.Null, t.GetProperty("text").ValueKind));
        Assert.Equal("f0 9f 99 82", string.Join(" ", tokens.Select(t => t.GetProperty("hex").GetString())));
        Assert.Equal(1, body.GetProperty("counts").GetProperty("characters").GetInt32());
        Assert.Equal(4, body.GetProperty("counts").GetProperty("bytes").GetInt32());
    }

    [Theory]
    [InlineData("model", "<|endoftext|>")]
    [InlineData("cl100k_base", "<|endoftext|>")]
    [InlineData("o200k_base", "<|endofprompt|>")]
    public async Task Special_tokens_text_is_one_token_only_when_asked(string encoding, string special)
    {
        var tokenizer = fixture.Tokenizer(encoding);
        string text = $"a{special}b";
        int id = tokenizer.SpecialTokens[special];

        var (_, on) = await fixture.PostAsync("/v1/tokenize", new { text, encoding, special = true });
        Assert.Equal(tokenizer.Encode(text, SpecialTokenSet.All), Ids(on));
        var marked = Assert.Single(on.GetProperty("tokens").EnumerateArray(), t => t.GetProperty("id").GetInt32() == id);
        Assert.True(marked.GetProperty("special").GetBoolean());
        Assert.Equal(special, marked.GetProperty("text").GetString());

        var (_, off) = await fixture.PostAsync("/v1/tokenize", new { text, encoding, special = false });
        Assert.Equal(tokenizer.EncodeOrdinary(text), Ids(off));
        Assert.DoesNotContain(id, Ids(off));
        var (_, unsaid) = await fixture.PostAsync("/v1/tokenize", new { text, encoding });
        Assert.Equal(Ids(off), Ids(unsaid));
    }

    [Fact]
    public async Task Messages_are_rendered_through_the_models_chat_template()
    {
        ChatMessage[] messages = [new("system", "Be brief."), new("user", "Hello there"), new("assistant", "I am fine"), new("user", "How are you today?")];
        var (status, body) = await fixture.PostAsync("/v1/tokenize", new { messages = messages.Select(m => new { role = m.Role, content = m.Content }) });
        Assert.True(status == 200, body.ToString());
        Assert.Equal("model", body.GetProperty("encoding").GetString());
        Assert.Equal(new ChatPrompt(fixture.Tokenizer("model")).Render(messages), Ids(body));
        string rendered = body.GetProperty("text").GetString()!;
        Assert.StartsWith("<|im_start|>system<|im_sep|>Be brief.<|im_end|><|im_start|>user<|im_sep|>Hello there<|im_end|>", rendered, StringComparison.Ordinal);
        Assert.EndsWith("<|im_start|>assistant<|im_sep|>", rendered, StringComparison.Ordinal);
        Assert.Contains("chat template", body.GetProperty("template").GetString(), StringComparison.Ordinal);
        Assert.Equal(4 * 3 + 2, body.GetProperty("tokens").EnumerateArray().Count(t => t.TryGetProperty("special", out _)));
    }

    [Theory]
    [InlineData("gpt2", 50257)]
    [InlineData("o200k_base", 200264)]
    public async Task OpenAIs_encodings_render_a_chat_with_the_markers_added(string encoding, int imStart)
    {
        var (status, body) = await fixture.PostAsync("/v1/tokenize", new { messages = new[] { new { role = "user", content = "Hi" } }, encoding });
        Assert.True(status == 200, body.ToString());
        int[] ids = Ids(body);
        Assert.Equal(imStart, ids[0]);
        Assert.Equal(new ChatPrompt(ChatTemplate.WithChatMarkers(fixture.Tokenizer(encoding))).Render([new ChatMessage("user", "Hi")]), ids);
        Assert.Contains(imStart.ToString(CultureInfo.InvariantCulture), body.GetProperty("template").GetString(), StringComparison.Ordinal);
        // and they decode again
        var (_, text) = await fixture.PostAsync("/v1/detokenize", new { ids, encoding });
        Assert.Equal(body.GetProperty("text").GetString(), text.GetProperty("text").GetString());
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public async Task Detokenize_gives_the_text_back(string encoding)
    {
        int[] ids = fixture.Tokenizer(encoding).Encode(Text);
        var (status, body) = await fixture.PostAsync("/v1/detokenize", new { ids, encoding });
        Assert.True(status == 200, body.ToString());
        Assert.Equal(Text, body.GetProperty("text").GetString());
        Assert.True(body.GetProperty("valid_utf8").GetBoolean());
        Assert.Equal(ids.Length, body.GetProperty("counts").GetProperty("tokens").GetInt32());

        int[] smile = fixture.Tokenizer(encoding).Encode("🙂");
        if (smile.Length == 1) return; // 🙂 is one token here
        var (_, half) = await fixture.PostAsync("/v1/detokenize", new { ids = smile[..1], encoding });
        Assert.False(half.GetProperty("valid_utf8").GetBoolean());
        Assert.Equal("\uFFFD", half.GetProperty("text").GetString());
    }

    [Fact]
    public async Task The_encodings_on_offer_are_the_models_then_those_with_rank_files()
    {
        using var response = await fixture.Client.GetAsync("/v1/tokenize/encodings");
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("model", body.GetProperty("default").GetString());
        Assert.True(body.GetProperty("chat_page").GetBoolean());
        Assert.Equal(["model", "gpt2", "cl100k_base", "o200k_base"], body.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        Assert.Equal($"model: {ServerFixture.ModelName}", body.GetProperty("data")[0].GetProperty("label").GetString());

        // a server whose rank directory is empty offers its own tokenizer only
        string empty = Directory.CreateTempSubdirectory("lmforge-no-ranks-").FullName;
        try
        {
            var alone = new ServedTokenizers(fixture.Tokenizer("model"), "alone", empty);
            Assert.Equal(["model"], alone.Ids);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    public static TheoryData<string, string, int, string?, string> BadRequests => new()
    {
        // path, body, status, param, a piece of the message
        { "/v1/tokenize", """{"text":"Hello""", 400, null, "not valid JSON" },
        { "/v1/tokenize", "", 400, null, "empty" },
        { "/v1/tokenize", "[1,2]", 400, null, "must be a JSON object" },
        { "/v1/tokenize", "{}", 400, "text", "you must provide a text parameter" },
        { "/v1/tokenize", """{"text":42}""", 400, "text", "expected a string, got the number 42" },
        { "/v1/tokenize", """{"text":"a","messages":[{"role":"user","content":"a"}]}""", 400, "messages", "not both" },
        { "/v1/tokenize", """{"text":"a","encoding":"p50k_base"}""", 400, "encoding", "unknown encoding 'p50k_base'; this server has model, gpt2, cl100k_base, o200k_base" },
        { "/v1/tokenize", """{"text":"a","encoding":7}""", 400, "encoding", "expected a string" },
        { "/v1/tokenize", """{"text":"a","special":"yes"}""", 400, "special", "expected true or false" },
        { "/v1/tokenize", """{"messages":[]}""", 400, "messages", "empty" },
        { "/v1/tokenize", """{"messages":[{"role":"wizard","content":"a"}]}""", 400, "messages[0].role", "unknown role 'wizard'" },
        { "/v1/tokenize", """{"messages":[{"role":"user"}]}""", 400, "messages[0].content", "missing content" },
        { "/v1/detokenize", "{}", 400, "ids", "you must provide an ids parameter" },
        { "/v1/detokenize", """{"ids":"1 2"}""", 400, "ids", "expected an array of token ids" },
        { "/v1/detokenize", """{"ids":[1,99999]}""", 400, "ids", "ids[1]: expected a token id of model (0.." },
        { "/v1/detokenize", """{"ids":[-1]}""", 400, "ids", "ids[0]" },
        { "/v1/detokenize", """{"ids":["a"]}""", 400, "ids", "got \"a\"" },
        { "/v1/detokenize", """{"ids":[1],"encoding":"r50k_base"}""", 400, "encoding", "unknown encoding" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_request_is_refused_with_an_OpenAI_error(string path, string body, int status, string? param, string message)
    {
        var (actual, json) = await fixture.PostAsync(path, body);
        AssertError(json, actual, status, param, message);
    }

    [Fact]
    public async Task Text_past_one_MiB_is_413_naming_the_limit_and_a_body_past_the_servers_limit_too()
    {
        string text = new('a', TokenizerApi.MaxTextBytes + 1);
        var (status, json) = await fixture.PostAsync("/v1/tokenize", new { text });
        AssertError(json, status, 413, "text", "text is 1048577 bytes of UTF-8; the tokenizer takes at most 1048576 bytes (1 MiB)");
        // exactly the limit is fine
        var (ok, body) = await fixture.PostAsync("/v1/tokenize", new { text = text[1..], encoding = "gpt2" });
        Assert.Equal(200, ok);
        Assert.Equal(TokenizerApi.MaxTextBytes, body.GetProperty("counts").GetProperty("bytes").GetInt32());

        var (chat, chatJson) = await fixture.PostAsync("/v1/tokenize", new { messages = new[] { new { role = "user", content = text } } });
        AssertError(chatJson, chat, 413, "messages", "1 MiB");
        var (big, bigJson) = await fixture.PostAsync("/v1/tokenize", new { text = new string('a', 5 << 20) });
        AssertError(bigJson, big, 413, null, "the limit is 4194304 bytes");
    }

    [Fact]
    public async Task A_tokenizer_without_a_model_serves_the_page_and_the_endpoints_only()
    {
        var client = fixture.TokenizerOnlyClient;
        using (var root = await client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.Redirect, root.StatusCode);
            Assert.Equal("/tokenizer", root.Headers.Location!.OriginalString);
        }
        using (var page = await client.GetAsync("/tokenizer"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
            Assert.Contains("connect-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
            Assert.Contains("<title>LmForge tokenizer</title>", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        using (var list = await client.GetAsync("/v1/tokenize/encodings"))
        {
            var body = JsonDocument.Parse(await list.Content.ReadAsStringAsync()).RootElement;
            Assert.Equal("gpt2", body.GetProperty("default").GetString());
            Assert.False(body.GetProperty("chat_page").GetBoolean());
            Assert.Equal(["gpt2", "cl100k_base", "o200k_base"], body.GetProperty("data").EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        }
        var (status, tokens) = await TokenizerFixture.PostAsync(client, "/v1/tokenize", """{"text":"Hello world"}""");
        Assert.Equal(200, status);
        Assert.Equal("gpt2", tokens.GetProperty("encoding").GetString());
        Assert.Equal([15496, 995], Ids(tokens));
        var (chatStatus, chat) = await TokenizerFixture.PostAsync(client, "/v1/chat/completions", """{"model":"x","messages":[{"role":"user","content":"Hi"}]}""");
        AssertError(chat, chatStatus, 404, null, "no such endpoint");
        Assert.Throws<InvalidOperationException>(() => fixture.TokenizerOnly.Model);
    }

    [Fact]
    public async Task The_chat_page_and_the_tokenizer_page_link_to_each_other()
    {
        string chat = await fixture.Client.GetStringAsync("/");
        Assert.Contains("href=\"/tokenizer\"", chat, StringComparison.Ordinal);
        using var page = await fixture.Client.GetAsync("/tokenizer");
        Assert.Contains("default-src 'none'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Contains("id=\"chat-link\" href=\"/\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Retokenizing_10_KB_round_trip()
    {
        // a page of prose, as a user would paste it
        string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog; naïve café, 東京, 🙂 and code: for (int i = 0; i < n; i++) { sum += a[i]; }\n", 100))[..10_240];
        foreach (string encoding in new[] { "model", "cl100k_base", "o200k_base" })
        {
            await fixture.PostAsync("/v1/tokenize", new { text, encoding }); // loads the encoding
            var times = new List<double>();
            int tokens = 0;
            for (int i = 0; i < 20; i++)
            {
                string edited = text[..^1] + (char)('a' + i); // a keystroke later
                var clock = Stopwatch.StartNew();
                var (status, body) = await fixture.PostAsync("/v1/tokenize", new { text = edited, encoding, special = true });
                times.Add(clock.Elapsed.TotalMilliseconds);
                Assert.Equal(200, status);
                tokens = body.GetProperty("counts").GetProperty("tokens").GetInt32();
            }
            times.Sort();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"POST /v1/tokenize, 10 KB ({Encoding.UTF8.GetByteCount(text)} bytes) -> {tokens} tokens, {encoding}: median {times[times.Count / 2]:F2} ms, best {times[0]:F2} ms, worst {times[^1]:F2} ms over {times.Count} (HttpClient, loopback, response parsed)"));
        }
    }

    private static int[] Ids(JsonElement body) => [.. body.GetProperty("ids").EnumerateArray().Select(i => i.GetInt32())];

    private static byte[] Bytes(JsonElement token) => token.GetProperty("text").ValueKind == JsonValueKind.String
        ? Encoding.UTF8.GetBytes(token.GetProperty("text").GetString()!)
        : Convert.FromHexString(token.GetProperty("hex").GetString()!.Replace(" ", "", StringComparison.Ordinal));

    private static void AssertError(JsonElement json, int actual, int status, string? param, string message)
    {
        Assert.True(actual == status, $"status {actual}, expected {status}: {json}");
        var error = json.GetProperty("error");
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());
    }
}
