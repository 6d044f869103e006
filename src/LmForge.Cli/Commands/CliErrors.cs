using LmForge.Data.Execution;
using LmForge.Data.Recipes;
using LmForge.Models.Transformer;
using LmForge.Tokenization;
using LmForge.Training;

namespace LmForge.Cli.Commands;

/// <summary>
/// The one handler every command's action runs in, and the tool's exit codes: <see cref="Success"/> 0;
/// <see cref="Failure"/> 1, an expected failure (bad input, a missing or unwritable file, a failed task, a refused
/// setting), printed as one line "error: ..." on stderr that names what and where; <see cref="Interrupted"/> 130, a run
/// stopped by Ctrl+C, SIGTERM or SIGHUP after saving (its message says how to continue). A command line the parser
/// refuses (an unknown option, a missing argument) is System.CommandLine's usage error, also 1, with its help. Any other
/// exception is a bug and keeps its stack trace.
/// </summary>
static class CliErrors
{
    public const int Success = 0, Failure = 1, Interrupted = 130;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (RunInterruptedException e)
        {
            Console.Error.WriteLine(e.Message);
            return Interrupted;
        }
        catch (Exception e) when (ExpectedMessage(e) is { } message)
        {
            Console.Error.WriteLine($"error: {message}");
            return Failure;
        }
    }

    /// <summary>The one-line message of an expected failure (bad input, a missing file, ...), or null for a bug.</summary>
    public static string? ExpectedMessage(Exception e)
    {
        if (e is not (IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException or InvalidOperationException
            or KeyNotFoundException or FormatException or TokenizerFormatException or TrainingConfigException or NonFiniteLossException
            or RecipeException or TaskFailedException))
            return null;
        // plain: one line, never wrapped; .NET's " (Parameter 'x')" suffix says nothing the message does not
        string message = e is ArgumentException { ParamName: { } name } ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
        return message.ReplaceLineEndings(" ");
    }
}
