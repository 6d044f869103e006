using System.Globalization;

namespace LmForge.Training.Distributed;

/// <summary>
/// Finds out whether this process is one of several that a launcher started (Open MPI's mpirun, or Slurm's srun) and
/// joins them: <see cref="Join"/> gives <see cref="SingleProcess"/> for a plain run, without loading MPI, and an
/// <see cref="MpiCollective"/> otherwise. Also divides the machine's cores among the ranks on it.
/// </summary>
public static class ProcessGroup
{
    public const string HowToInstall = "install Open MPI (sudo apt-get install openmpi-bin libopenmpi-dev)";

    /// <summary>
    /// The processes a launcher says it started and this one's rank, from its environment: mpirun's OMPI_COMM_WORLD_SIZE
    /// and OMPI_COMM_WORLD_RANK, srun's SLURM_STEP_NUM_TASKS and SLURM_PROCID (set in a job step, not in an sbatch
    /// script itself), or PMIX_RANK alone (another PMIx launcher: the count is then MPI's to say). Null for a plain run.
    /// </summary>
    public static (string Launcher, int? Size, int Rank)? Launch(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        int? Number(string name) => int.TryParse(environment(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value : null;
        if (Number("OMPI_COMM_WORLD_SIZE") is { } mpiSize)
            return mpiSize > 1 ? ("mpirun", mpiSize, Number("OMPI_COMM_WORLD_RANK") ?? 0) : null;
        if (Number("SLURM_STEP_NUM_TASKS") is { } tasks && environment("SLURM_STEP_ID") is not (null or "batch" or "extern"))
            return tasks > 1 ? ("srun", tasks, Number("SLURM_PROCID") ?? 0) : null;
        if (Number("PMIX_RANK") is { } pmixRank) return ("a PMIx launcher", null, pmixRank);
        return null;
    }

    /// <summary>
    /// The processes of this run: <see cref="SingleProcess.Instance"/> unless a launcher started several, then Open
    /// MPI's (a <see cref="ProcessGroupException"/> on every rank when libmpi is missing or MPI sees fewer processes
    /// than the launcher started).
    /// </summary>
    public static ICollective Join()
    {
        if (Launch() is not { } launch) return SingleProcess.Instance;
        MpiCollective mpi;
        try
        {
            mpi = MpiCollective.Initialize();
        }
        catch (DllNotFoundException)
        {
            throw new ProcessGroupException(launch.Rank,
                $"{launch.Launcher} started {(launch.Size is { } n ? $"{n} processes" : "this process as one of several")} but Open MPI's {MpiCollective.LibraryPath} cannot be loaded: {HowToInstall} on every machine, or run one process");
        }
        if (mpi.Size == 1)
        {
            mpi.Dispose();
            throw new ProcessGroupException(launch.Rank,
                $"{launch.Launcher} started {launch.Size} processes but MPI sees each one alone: start them with srun --mpi=pmix (srun --mpi=list shows what this Slurm offers) or with mpirun");
        }
        return mpi;
    }

    /// <summary>
    /// Worker threads for one rank: the machine's online cores divided among its <paramref name="localRanks"/>, never
    /// more than the cores this process may run on (a launcher that binds each rank to its cores has done the division).
    /// </summary>
    public static int ThreadsPerRank(int localRanks, int? onlineCores = null)
    {
        int allowed = Environment.ProcessorCount; // the affinity mask and cgroup quota, as .NET reads them
        int cores = onlineCores ?? OnlineCores() ?? allowed;
        return Math.Max(1, Math.Min(allowed, cores / Math.Max(1, localRanks)));
    }

    // /sys/devices/system/cpu/online lists the online cores as ranges ("0-3,6,8-9").
    static int? OnlineCores()
    {
        try
        {
            string text = File.ReadAllText("/sys/devices/system/cpu/online").Trim();
            int count = 0;
            foreach (string range in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                string[] ends = range.Split('-');
                count += ends.Length == 2 ? int.Parse(ends[1], CultureInfo.InvariantCulture) - int.Parse(ends[0], CultureInfo.InvariantCulture) + 1 : 1;
            }
            return count > 0 ? count : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>
/// A problem every rank of a run finds at the same moment (a missing libmpi, configs or data that differ between
/// ranks, a rank count that does not divide the batch): rank 0 reports it in one line, the others stay quiet, and no
/// rank needs to abort the others. <see cref="Rank"/> is the rank that throws it.
/// </summary>
public sealed class ProcessGroupException(int rank, string message) : Exception(message)
{
    public int Rank { get; } = rank;
}
