namespace LmForge.Fuzzing;

/// <summary>
/// The process's peak resident memory (Linux VmHWM), which writing "5" to /proc/self/clear_refs resets to the current
/// resident size, so the peak of one fuzz case can be read. Elsewhere <see cref="Reset"/> returns 0 and no bound applies.
/// </summary>
static class PeakResidentMemory
{
    static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Resets the peak and returns the resident size it starts from, or 0 where that is impossible.</summary>
    public static long Reset()
    {
        if (_unavailable) return 0;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return Read("VmRSS:");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _unavailable = true;
            return 0;
        }
    }

    public static long Peak() => _unavailable ? 0 : Read("VmHWM:");

    static long Read(string field)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (!line.StartsWith(field, StringComparison.Ordinal)) continue;
            var parts = line[field.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }
}
