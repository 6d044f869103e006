using System.Text.Json;
using Xunit.Abstractions;

namespace LmForge.Server.Tests;

/// <summary>The tokenizer page in real Chromium, against the ids the library gives.</summary>
public class TokenizerPageTests(TokenizerFixture fixture, ITestOutputHelper output) : IClassFixture<TokenizerFixture>
{
    private const string Text = "Hello there, how are you today?\nTokenizers split naïve café text: 🙂 東京.";

    [Fact]
    public async Task The_tokenizer_page_in_Chromium_shows_the_library_ids_switches_encodings_and_keeps_up_with_10_KB()
    {
        string artifacts = Path.Combine(Path.GetDirectoryName(NodeClients.OraclesDirectory())!, "..", "artifacts");
        Directory.CreateDirectory(artifacts);
        string screenshot = Path.GetFullPath(Path.Combine(artifacts, "tokenizer-page.png"));
        File.Delete(screenshot);
        Assert.True(File.Exists(Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium"), "chromium is not installed: tests/setup/browser.sh installs it");

        string longText = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog; how are you today? I am fine, thank you.\n", 120))[..10_240];
        string expected = Path.Combine(fixture.RankDirectory, "..", "tokenizer-page-expected.json");
        await File.WriteAllTextAsync(expected, JsonSerializer.Serialize(new
        {
            text = Text,
            ids = new Dictionary<string, int[]> { ["model"] = fixture.Tokenizer("model").Encode(Text), ["gpt2"] = fixture.Tokenizer("gpt2").Encode(Text) },
            @long = longText,
        }));

        var result = await NodeClients.RunAsync("tokenizer-page.mjs", TimeSpan.FromSeconds(180), fixture.Server.Address.ToString(), screenshot, expected);
        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.True(new FileInfo(screenshot).Length > 1000, "no screenshot was kept");
        var round = result.GetProperty("long");
        output.WriteLine($"tokenizer page: {round.GetProperty("bytes")} bytes -> {round.GetProperty("tokens")} tokens; fetch of POST /v1/tokenize from the page: median {round.GetProperty("fetchMedianMs")} ms; drawing the boxes (laid out): median {round.GetProperty("drawMedianMs")} ms; change to redrawn boxes: median {round.GetProperty("changeToDrawnMedianMs")} ms; the first time, all 10 KB new: drawing {round.GetProperty("firstDrawMs")} ms, change to drawn {round.GetProperty("firstChangeMs")} ms ({round.GetProperty("note")})");
        output.WriteLine(result.ToString());
    }
}
