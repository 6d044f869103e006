using System.Globalization;
using System.Text;

namespace LmForge.Training.Distributed;

/// <summary>What a data-parallel training job asks of Slurm.</summary>
public sealed record SlurmTrainingJob
{
    /// <summary>Machines.</summary>
    public int Nodes { get; init; } = 1;

    /// <summary>Processes (ranks) per machine; each takes an equal share of its cores.</summary>
    public int ProcessesPerNode { get; init; } = 2;

    public string? Partition { get; init; }

    /// <summary>The job's time limit, as sbatch reads it (e.g. 02:00:00).</summary>
    public string? TimeLimit { get; init; }

    public string JobName { get; init; } = "lmforge-train";
}

/// <summary>
/// The sbatch script of a data-parallel training run (<c>lmforge train --print-sbatch</c>): Slurm allocates the nodes
/// and starts every rank with <c>srun --mpi=pmix</c> (Open MPI joins through PMIx, no mpirun needed), and
/// <c>--kill-on-bad-exit</c> ends the others when one fails. Every node must see the shards and the run directory at
/// the same paths (a shared filesystem): every rank reads the data, and resumes from rank 0's checkpoints.
/// </summary>
public static class SlurmTrainingScript
{
    /// <param name="command">The training command each rank runs, already quoted for the shell (e.g. "lmforge train --config train.json").</param>
    public static string Write(SlurmTrainingJob job, string command)
    {
        if (job.Nodes < 1) throw new ArgumentException($"--nodes {job.Nodes}: expected at least 1 machine");
        if (job.ProcessesPerNode < 1) throw new ArgumentException($"--processes-per-node {job.ProcessesPerNode}: expected at least 1");
        var script = new StringBuilder();
        void Line(string text) => script.Append(text).Append('\n');
        Line("#!/bin/bash");
        Line(string.Create(CultureInfo.InvariantCulture,
            $"# lmforge train as {job.Nodes * job.ProcessesPerNode} data-parallel processes ({job.Nodes} node(s) x {job.ProcessesPerNode}), written by lmforge train --print-sbatch"));
        Line($"#SBATCH --job-name={job.JobName}");
        Line(string.Create(CultureInfo.InvariantCulture, $"#SBATCH --nodes={job.Nodes}"));
        Line(string.Create(CultureInfo.InvariantCulture, $"#SBATCH --ntasks-per-node={job.ProcessesPerNode}"));
        if (job.Partition is { } partition) Line($"#SBATCH --partition={partition}");
        if (job.TimeLimit is { } time) Line($"#SBATCH --time={time}");
        Line($"#SBATCH --output={job.JobName}-%j.out");
        Line("set -euo pipefail");
        Line($"srun --mpi=pmix --kill-on-bad-exit=1 {command}");
        return script.ToString();
    }

    /// <summary>Quotes a word for the shell when it needs it.</summary>
    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or ':' or '=' or ',' or '+') ? word : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
