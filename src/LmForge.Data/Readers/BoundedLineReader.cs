using System.Text;

namespace LmForge.Data.Readers;

/// <summary>
/// Reads lines (ended by "\n", "\r\n" or "\r", as <see cref="TextReader.ReadLine"/>) holding at most
/// <c>maxChars</c> characters of one: a longer line is read past and reported as too long, so a file without line
/// breaks costs a buffer, not its size in memory.
/// </summary>
internal sealed class BoundedLineReader(TextReader reader, int maxChars)
{
    private readonly char[] _buffer = new char[64 << 10];
    private readonly StringBuilder _line = new();
    private int _position;
    private int _length;
    private bool _skipLineFeed;

    /// <summary>The next line, or null at the end; when <paramref name="tooLong"/> the line is "" and was skipped.</summary>
    public string? ReadLine(out bool tooLong)
    {
        tooLong = false;
        _line.Clear();
        bool any = false;
        while (true)
        {
            if (_position == _length)
            {
                _length = reader.Read(_buffer, 0, _buffer.Length);
                _position = 0;
                if (_length == 0) return any ? Finish(tooLong) : null;
            }
            if (_skipLineFeed)
            {
                _skipLineFeed = false;
                if (_buffer[_position] == '\n' && ++_position == _length) continue;
            }
            any = true;
            var rest = _buffer.AsSpan(_position, _length - _position);
            int end = rest.IndexOfAny('\r', '\n');
            int take = end < 0 ? rest.Length : end;
            if (!tooLong && _line.Length + take > maxChars)
            {
                tooLong = true;
                _line.Clear();
            }
            if (!tooLong) _line.Append(rest[..take]);
            _position += take;
            if (end < 0) continue;
            _skipLineFeed = rest[end] == '\r';
            _position++;
            return Finish(tooLong);
        }
    }

    private string Finish(bool tooLong) => tooLong ? "" : _line.ToString();
}
