using System.Net;
using System.Text.Json;
using LmForge.Data.Anonymization;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Tests.Anonymization;

public class PiiAnonymizerTests
{
    private static readonly PiiAnonymizer Anonymizer = new();

    [Theory]
    [InlineData("Write to john.doe+news@mail.example.co.uk today.", 1)]
    [InlineData("Two: a_b@example.com, x.y-z@sub.domain.org.", 2)]
    [InlineData("Mixed Case: Jane.Smith@Example.COM", 1)]
    [InlineData("not addresses: @handle, user@localhost, a@b, me@1.5, foo@bar.c", 0)]
    public void Emails_are_replaced_by_the_fineweb_placeholders(string text, int expected)
    {
        var (output, emails, _) = Anonymizer.Anonymize(text);
        Assert.Equal(expected, emails);
        if (expected > 0)
        {
            Assert.DoesNotContain("example.co.uk", output, StringComparison.Ordinal);
            Assert.Contains(PiiAnonymizer.EmailReplacements, r => output.Contains(r, StringComparison.Ordinal));
        }
        else Assert.Equal(text, output);
    }

    [Fact]
    public void Public_ips_are_replaced_and_private_ones_kept()
    {
        var text = "dns 8.8.8.8 and 2606:4700:4700::1111; lan 192.168.1.20, 10.0.0.1, ::1, fe80::1, 127.0.0.1; "
            + "not ips: 1.2.3.4.5 256.1.1.1 12:30:45 v1.2.3";
        var (output, _, ips) = Anonymizer.Anonymize(text);
        Assert.Equal(2, ips);
        Assert.DoesNotContain("8.8.8.8", output, StringComparison.Ordinal);
        Assert.DoesNotContain("2606:4700", output, StringComparison.Ordinal);
        foreach (var kept in new[] { "192.168.1.20", "10.0.0.1", "::1", "fe80::1", "127.0.0.1", "1.2.3.4.5", "256.1.1.1", "12:30:45", "v1.2.3" })
            Assert.Contains(kept, output, StringComparison.Ordinal);
        Assert.Equal(2, output.Split(PiiAnonymizer.IpReplacements, StringSplitOptions.None).Length - 1);
    }

    [Fact]
    public void Replacement_is_deterministic()
    {
        var text = "mail me at someone@example.net from 93.184.216.34";
        Assert.Equal(Anonymizer.Anonymize(text).Text, new PiiAnonymizer().Anonymize(text).Text);
    }

    [Fact]
    public void Public_ranges_agree_with_python_ipaddress_is_global()
    {
        // Fixture from tests/LmForge.Data.Tests/Fixtures/generate_ip_fixture.py (Python's ipaddress module).
        var verdicts = JsonSerializer.Deserialize<Dictionary<string, bool>>(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "ip_is_global.json")))!;
        Assert.True(verdicts.Count > 400);
        var disagreements = verdicts.Where(v => PublicIpRanges.IsPublic(IPAddress.Parse(v.Key)) != v.Value).Select(v => $"{v.Key}: python {v.Value}").ToList();
        Assert.Empty(disagreements);
    }

    [Fact]
    public void Step_counts_replacements_and_can_be_limited_to_emails()
    {
        var docs = new[] { new Document("1", "a@example.com 8.8.4.4"), new Document("2", "nothing here") };
        var (output, stats, _) = StepRunner.Run(new PiiAnonymizer { ReplaceIps = false }, docs);
        Assert.Equal(2, output.Count);
        Assert.Contains("8.8.4.4", output[0].Text, StringComparison.Ordinal);
        Assert.Equal(1, stats.Counter("emails_replaced"));
        Assert.Equal(0, stats.Counter("ips_replaced"));
        Assert.Equal(1, stats.Counter("documents_changed"));
    }
}
