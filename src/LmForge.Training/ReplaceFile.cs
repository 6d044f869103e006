namespace LmForge.Training;

/// <summary>
/// Writes a file so that readers see the old or the new contents, never half: the contents go to a temporary name of
/// its own (two writers never share one) in the same directory, renamed into place; on failure the temporary is removed.
/// </summary>
static class ReplaceFile
{
    public static void WriteAllText(string path, string contents) => Write(path, temporary => File.WriteAllText(temporary, contents));

    public static void WriteAllLines(string path, IEnumerable<string> lines) => Write(path, temporary => File.WriteAllLines(temporary, lines));

    static void Write(string path, Action<string> writeTemporary)
    {
        string temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            writeTemporary(temporary);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The original error says what went wrong; a temporary that cannot be removed is not worth hiding it.
            }
            throw;
        }
    }
}
