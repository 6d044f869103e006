using System.Runtime.InteropServices;

namespace LmForge.Cli.Commands;

/// <summary>
/// Ctrl+C (SIGINT), SIGTERM and SIGHUP as a request to stop cleanly: the first one cancels <c>cancellation</c> (long work
/// finishes its step and saves) instead of ending the process; a second one ends it at once, as the signal normally would.
/// </summary>
static class InterruptSignals
{
    public static IDisposable Register(CancellationTokenSource cancellation, Action<string> announce)
    {
        var registrations = new List<PosixSignalRegistration>();
        foreach (var (signal, name) in (ReadOnlySpan<(PosixSignal, string)>)[(PosixSignal.SIGINT, "Ctrl+C"), (PosixSignal.SIGTERM, "SIGTERM"), (PosixSignal.SIGHUP, "SIGHUP")])
        {
            registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (cancellation.IsCancellationRequested) return; // the second one: let it end the process
                context.Cancel = true;
                cancellation.Cancel();
                announce(name);
            }));
        }
        return new Registrations(registrations);
    }

    sealed class Registrations(List<PosixSignalRegistration> registrations) : IDisposable
    {
        public void Dispose()
        {
            foreach (var registration in registrations) registration.Dispose();
        }
    }
}

/// <summary>A run stopped by a signal after saving what it had: the command prints the message and exits with <see cref="CliErrors.Interrupted"/>.</summary>
sealed class RunInterruptedException(string message) : Exception(message);
