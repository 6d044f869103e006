using LmForge.Tokenization.Chat;

namespace LmForge.Server.Tests;

/// <summary>Clients nobody here wrote: the official OpenAI library, and the chat page in real Chromium.</summary>
public class RealClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task The_official_OpenAI_client_gets_the_library_reply()
    {
        var result = await NodeClients.RunAsync("openai-client.mjs", TimeSpan.FromSeconds(120), fixture.Server.Address.ToString(), ServerFixture.ModelName);
        Assert.True(result.GetProperty("ok").GetBoolean());

        ChatMessage[] messages = [new("system", "Be brief."), new("user", "Hello there"), new("assistant", "I am fine"), new("user", "How are you today?")];
        Assert.Equal(fixture.LibraryReply(messages, 12), result.GetProperty("chat").GetString());
        Assert.Equal(fixture.PromptTokens(messages), result.GetProperty("promptTokens").GetInt32());
    }

    [Fact]
    public async Task The_chat_page_in_Chromium_streams_stops_starts_anew_and_shows_errors()
    {
        string artifacts = Path.Combine(Path.GetDirectoryName(NodeClients.OraclesDirectory())!, "..", "artifacts");
        Directory.CreateDirectory(artifacts);
        string screenshot = Path.GetFullPath(Path.Combine(artifacts, "web-chat.png"));
        File.Delete(screenshot);
        Assert.True(File.Exists(Environment.GetEnvironmentVariable("CHROMIUM") ?? "/usr/bin/chromium"), "chromium is not installed: tests/setup/browser.sh installs it");
        var result = await NodeClients.RunAsync("web-chat.mjs", TimeSpan.FromSeconds(180), fixture.Server.Address.ToString(), screenshot);
        Assert.True(result.GetProperty("ok").GetBoolean(), result.ToString());
        Assert.True(new FileInfo(screenshot).Length > 1000, "no screenshot was kept");
        Assert.True(await fixture.IdleWithinAsync(TimeSpan.FromSeconds(5)));
    }
}
