using System.Text;

namespace LmForge.Data.SampleCrawl;

/// <summary>
/// Encodes an HTML page in a legacy charset as an old web server would serve it: every character the charset
/// has becomes its bytes, every other one a numeric character reference (&amp;#8220;), which a browser and our
/// reader decode back to the same character.
/// </summary>
internal static class LegacyCharset
{
    static LegacyCharset() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    public static Encoding Get(string name) => Encoding.GetEncoding(name, EncoderFallback.ExceptionFallback, DecoderFallback.ExceptionFallback);

    public static byte[] Encode(string html, string charset)
    {
        var encoding = Get(charset);
        var known = new Dictionary<int, bool>();
        var text = new StringBuilder(html.Length + 256);
        foreach (var rune in html.EnumerateRunes())
        {
            if (rune.Value < 0x80) { text.Append((char)rune.Value); continue; }
            if (!known.TryGetValue(rune.Value, out bool encodable))
            {
                try
                {
                    encoding.GetByteCount(rune.ToString());
                    encodable = true;
                }
                catch (EncoderFallbackException)
                {
                    encodable = false;
                }
                known[rune.Value] = encodable;
            }
            if (encodable) text.Append(rune.ToString());
            else text.Append("&#").Append(rune.Value).Append(';');
        }
        return encoding.GetBytes(text.ToString());
    }
}
