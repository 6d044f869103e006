namespace LmForge.Tokenization.Corpus;

/// <summary>
/// Streams corpus files (UTF-8 text, JSONL, either optionally gzip-compressed) as chunks of whole lines, so a
/// corpus of any size is read with bounded memory and the chunks can be decoded on several threads.
/// </summary>
public static class CorpusReader
{
    public const int DefaultChunkBytes = 1 << 20;

    /// <summary>
    /// The corpus files under <paramref name="path"/>: the file itself, or every <c>.txt</c>, <c>.jsonl</c>,
    /// <c>.ndjson</c> (each optionally <c>.gz</c>) file below the directory, in ordinal path order.
    /// </summary>
    public static IReadOnlyList<string> ListFiles(string path)
    {
        if (File.Exists(path))
            return [path];
        if (!Directory.Exists(path))
            throw new FileNotFoundException($"{path}: no such file or directory", path);
        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(IsCorpusFile)
            .OrderBy(f => f, StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0)
            throw new InvalidDataException($"{path}: no .txt, .jsonl or .ndjson (optionally .gz) files in this directory");
        return files;
    }

    /// <summary>JSONL when the name (without <c>.gz</c>) ends in <c>.jsonl</c>, <c>.ndjson</c> or <c>.json</c>; text otherwise.</summary>
    public static CorpusFormat FormatOf(string file)
    {
        var name = IsGzip(file) ? file[..^3] : file;
        return name.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? CorpusFormat.Jsonl
            : CorpusFormat.Text;
    }

    static bool IsCorpusFile(string file)
    {
        var name = IsGzip(file) ? file[..^3] : file;
        return name.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || FormatOf(file) == CorpusFormat.Jsonl;
    }

    public static bool IsGzip(string file) => file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Total on-disk size of the files: the unit of <paramref name="bytesRead"/> progress in <see cref="ReadChunks"/>.</summary>
    public static long TotalBytes(IReadOnlyList<string> files) => files.Sum(f => new FileInfo(f).Length);

    /// <summary>
    /// Reads the files in order as chunks of about <paramref name="chunkBytes"/> bytes that end on a line break
    /// (a longer line makes a longer chunk; a text file with no line break is cut at a UTF-8 character
    /// boundary). <paramref name="bytesRead"/> receives the on-disk bytes consumed so far.
    /// A gzip file that ends early is reported as an <see cref="InvalidDataException"/> naming the file.
    /// </summary>
    public static IEnumerable<CorpusChunk> ReadChunks(IReadOnlyList<string> files, int chunkBytes = DefaultChunkBytes,
        Action<long>? bytesRead = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkBytes, 16);
        long sequence = 0;
        long completedFileBytes = 0;
        foreach (var file in files)
        {
            var format = FormatOf(file);
            using var stream = GzipInput.Open(file);
            if (IsGzip(file) && stream is not GzipInputStream)
                throw new InvalidDataException($"{file}: named .gz but does not start with the gzip magic bytes 1F 8B");
            var buffer = new byte[chunkBytes];
            int filled = 0;
            long offset = 0, line = 1;
            bool first = true, end = false;
            while (!end)
            {
                int read;
                try
                {
                    read = stream.Read(buffer, filled, buffer.Length - filled);
                }
                catch (InvalidDataException e) when (!GzipInput.IsTruncation(e))
                {
                    throw new InvalidDataException($"{file}: corrupt gzip data after {offset + filled} decompressed bytes ({e.Message})", e);
                }
                filled += read;
                end = read == 0;
                bytesRead?.Invoke(completedFileBytes + GzipInput.CompressedPosition(stream));
                if (filled < buffer.Length && !end)
                    continue;
                if (filled == 0)
                    break;

                int cut = end ? filled : CutPoint(buffer, filled, format);
                if (cut == 0)
                {
                    // One JSONL line longer than the buffer: grow and keep reading.
                    Array.Resize(ref buffer, buffer.Length * 2);
                    continue;
                }
                var chunkBuffer = new byte[cut];
                Buffer.BlockCopy(buffer, 0, chunkBuffer, 0, cut);
                yield return new CorpusChunk(file, format, sequence++, offset, line, chunkBuffer, cut, first);
                line += buffer.AsSpan(0, cut).Count((byte)'\n');
                offset += cut;
                first = false;
                Buffer.BlockCopy(buffer, cut, buffer, 0, filled - cut);
                filled -= cut;
            }
            if (first && format == CorpusFormat.Text)
                yield return new CorpusChunk(file, format, sequence++, 0, 1, [], 0, true); // an empty file is an empty document
            completedFileBytes += new FileInfo(file).Length;
        }
    }

    // JSONL is cut after any line break. Text is cut after a line break followed by an ASCII letter or digit when
    // there is one: no piece of the gpt2, cl100k or o200k patterns spans "\n" + letter/digit, so chunking a text
    // file gives the same pieces (and tokens) as splitting it whole. (A custom regex may not share that property.)
    static int CutPoint(byte[] buffer, int filled, CorpusFormat format)
    {
        var bytes = buffer.AsSpan(0, filled);
        int lastNewline = bytes.LastIndexOf((byte)'\n');
        if (format == CorpusFormat.Jsonl)
            return lastNewline + 1;
        for (int i = lastNewline; i >= 0; i = bytes[..i].LastIndexOf((byte)'\n'))
        {
            if (i + 1 < filled && char.IsAsciiLetterOrDigit((char)bytes[i + 1]))
                return i + 1;
        }
        // No such line break in the chunk: cut before a space between two ASCII letters ("a| b"), which also
        // never falls inside a piece of those patterns.
        for (int i = bytes.LastIndexOf((byte)' '); i > 0; i = bytes[..i].LastIndexOf((byte)' '))
        {
            if (i + 1 < filled && char.IsAsciiLetter((char)bytes[i - 1]) && char.IsAsciiLetter((char)bytes[i + 1]))
                return i;
        }
        if (lastNewline >= 0)
            return lastNewline + 1;
        // Last resort: cut before a UTF-8 continuation byte run so no character is split.
        int cut = filled;
        while (cut > 0 && (buffer[cut - 1] & 0xC0) == 0x80)
            cut--;
        if (cut > 0 && buffer[cut - 1] >= 0xC0)
            cut--;
        return cut == 0 ? filled : cut;
    }
}
