using System.Globalization;
using LmForge.Tensors.Cpu;
using LmForge.Training.Distributed;
using Spectre.Console;

namespace LmForge.Cli.Commands;

/// <summary>
/// `lmforge train` as one rank of a data-parallel job (mpirun, srun, or the sbatch script <c>--print-sbatch</c> writes):
/// joins the processes, gives this one its share of the machine's cores, lets rank 0 alone print, and ends the job
/// cleanly on errors. A problem every rank finds together (<see cref="ProcessGroupException"/>, an agreed stop) is
/// reported once by rank 0 and every rank exits; a failure of one rank is printed by it and ends every rank at once
/// (MPI_Abort), since the others would otherwise wait for it in a collective.
/// </summary>
static class DataParallelRun
{
    public static int Run(Func<ICollective, int> body)
    {
        ICollective processes;
        try
        {
            processes = ProcessGroup.Join();
        }
        catch (ProcessGroupException e)
        {
            if (e.Rank == 0) Console.Error.WriteLine($"error: {e.Message}");
            return CliErrors.Failure;
        }
        if (processes.Size == 1) return body(processes);

        int threads = ProcessGroup.ThreadsPerRank(processes.LocalSize);
        WorkerPool.SetSharedWorkerCount(threads);
        if (processes.Rank != 0)
        {
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        }
        AnsiConsole.MarkupLineInterpolated(CultureInfo.InvariantCulture,
            $"data parallel: {processes.Size} processes ({processes.Description}), {threads} thread{(threads == 1 ? "" : "s")} each ({Environment.ProcessorCount} core(s) available to rank 0, {processes.LocalSize} rank(s) on its machine)");
        int code;
        try
        {
            code = body(processes);
        }
        catch (ProcessGroupException e)
        {
            if (processes.Rank == 0) Console.Error.WriteLine($"error: {e.Message}");
            code = CliErrors.Failure;
        }
        catch (RunInterruptedException e)
        {
            // every rank stopped at the same step (the stop request is agreed), and rank 0 saved
            if (processes.Rank == 0) Console.Error.WriteLine(e.Message);
            code = CliErrors.Interrupted;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"error: {(processes.Rank == 0 ? "" : $"rank {processes.Rank} of {processes.Size}: ")}{CliErrors.ExpectedMessage(e) ?? e.ToString()}");
            processes.Abort(CliErrors.Failure);
            throw;
        }
        processes.Dispose();
        return code;
    }
}
