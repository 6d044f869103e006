using System.IO.Compression;
using System.Text.Json;
using LmForge.Data.Pipeline;

namespace LmForge.Data.Writers;

/// <summary>
/// Writes documents as JSON Lines, <c>{"id","text","url","metadata":{...}}</c> per line, optionally gzip, to
/// "path.tmp" and renames to "path" on <see cref="Complete"/>: a file under its final name is always whole.
/// </summary>
public sealed class JsonlShardWriter : IDisposable
{
    private readonly string _path;
    private readonly string _tempPath;
    private readonly Stream _file;
    private readonly Stream _stream;
    private readonly Utf8JsonWriter _json;
    private static readonly JsonWriterOptions Options = new() { SkipValidation = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private bool _completed;

    public JsonlShardWriter(string path, bool gzip)
    {
        _path = path;
        _tempPath = path + ".tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _file = new FileStream(_tempPath, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        _stream = gzip ? new GZipStream(_file, CompressionLevel.Fastest) : _file;
        _json = new Utf8JsonWriter(_stream, Options);
    }

    public long DocumentsWritten { get; private set; }

    public void Write(Document document, string? extraKey = null, string? extraValue = null)
    {
        _json.Reset(_stream);
        _json.WriteStartObject();
        _json.WriteString("id", document.Id);
        _json.WriteString("text", document.Text);
        if (document.Url is not null) _json.WriteString("url", document.Url);
        if (extraKey is not null) _json.WriteString(extraKey, extraValue);
        if (document.Metadata.Count > 0)
        {
            _json.WritePropertyName("metadata");
            _json.WriteStartObject();
            foreach (var (key, value) in document.Metadata)
            {
                _json.WritePropertyName(key);
                if (value is null) _json.WriteNullValue();
                else JsonSerializer.Serialize(_json, value, value.GetType());
            }
            _json.WriteEndObject();
        }
        _json.WriteEndObject();
        _json.Flush();
        _stream.WriteByte((byte)'\n');
        DocumentsWritten++;
    }

    /// <summary>Flushes, closes and renames the file into place.</summary>
    public void Complete()
    {
        _json.Dispose();
        _stream.Dispose();
        _file.Dispose();
        File.Move(_tempPath, _path, overwrite: true);
        _completed = true;
    }

    /// <summary>Closes without completing: the temporary file is deleted, nothing appears under the final name.</summary>
    public void Dispose()
    {
        if (_completed) return;
        _json.Dispose();
        _stream.Dispose();
        _file.Dispose();
        try { File.Delete(_tempPath); } catch (IOException) { }
    }
}
