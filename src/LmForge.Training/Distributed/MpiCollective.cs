using System.Runtime.InteropServices;
using LmForge.Tensors;

namespace LmForge.Training.Distributed;

/// <summary>
/// The collectives on Open MPI, called through P/Invoke into the system's libmpi.so.40 (Debian's openmpi-bin and
/// libopenmpi-dev), loaded at run time so that a machine without MPI never touches it. Open MPI's handles
/// (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are the addresses of exported globals (ompi_mpi_comm_world, ...), and
/// MPI_IN_PLACE is the pointer 1 (mpi.h). Errors keep MPI's default handler, MPI_ERRORS_ARE_FATAL: a failed
/// collective, or a peer that died, ends the whole job rather than leaving a rank waiting.
/// </summary>
/// <remarks>
/// The gradient buffer is backend memory, so <see cref="AllReduceSum(IBackend, Tensor)"/> stages it through one pinned host
/// array (two copies of P floats per step, small next to a step's compute); a GPU implementation would reduce device
/// memory directly (NCCL, or a CUDA-aware MPI).
/// </remarks>
public sealed unsafe class MpiCollective : ICollective
{
    /// <summary>Open MPI's library (ABI version 40: Open MPI 3.0 to 5.x).</summary>
    public const string LibraryName = "libmpi.so.40";

    const int ThreadSerialized = 2;      // MPI_THREAD_SERIALIZED
    const int CommTypeShared = 0;        // MPI_COMM_TYPE_SHARED
    static readonly void* InPlace = (void*)1; // MPI_IN_PLACE

    readonly nint _library;
    readonly nint _world, _float, _double, _uint64, _sum, _min, _max;
    readonly delegate* unmanaged<void*, void*, int, nint, nint, nint, int> _allreduce;
    readonly delegate* unmanaged<nint, int, int> _abort;
    readonly delegate* unmanaged<int> _finalize;
    float[] _staging = [];
    bool _finalized;

    MpiCollective(nint library)
    {
        _library = library;
        _world = Export("ompi_mpi_comm_world");
        _float = Export("ompi_mpi_float");
        _double = Export("ompi_mpi_double");
        _uint64 = Export("ompi_mpi_uint64_t");
        _sum = Export("ompi_mpi_op_sum");
        _min = Export("ompi_mpi_op_min");
        _max = Export("ompi_mpi_op_max");
        _allreduce = (delegate* unmanaged<void*, void*, int, nint, nint, nint, int>)Export("MPI_Allreduce");
        _abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        _finalize = (delegate* unmanaged<int>)Export("MPI_Finalize");

        var initialized = (delegate* unmanaged<int*, int>)Export("MPI_Initialized");
        int already;
        Check(initialized(&already), "MPI_Initialized");
        if (already == 0)
        {
            var init = (delegate* unmanaged<int*, byte***, int, int*, int>)Export("MPI_Init_thread");
            int provided;
            Check(init(null, null, ThreadSerialized, &provided), "MPI_Init_thread");
        }
        var rank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        var size = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        int value;
        Check(rank(_world, &value), "MPI_Comm_rank");
        Rank = value;
        Check(size(_world, &value), "MPI_Comm_size");
        Size = value;

        // The ranks on this machine: MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, ...), whatever started them.
        var split = (delegate* unmanaged<nint, int, int, nint, nint*, int>)Export("MPI_Comm_split_type");
        var free = (delegate* unmanaged<nint*, int>)Export("MPI_Comm_free");
        nint local;
        Check(split(_world, CommTypeShared, Rank, Export("ompi_mpi_info_null"), &local), "MPI_Comm_split_type");
        Check(size(local, &value), "MPI_Comm_size");
        LocalSize = value;
        Check(free(&local), "MPI_Comm_free");

        var version = (delegate* unmanaged<byte*, int*, int>)Export("MPI_Get_library_version");
        byte* text = stackalloc byte[8192]; // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI
        int length;
        Check(version(text, &length), "MPI_Get_library_version");
        string full = Marshal.PtrToStringUTF8((nint)text, length).Trim('\0', ' ', '\n');
        Description = full.Split(',')[0].Replace(" v", " ", StringComparison.Ordinal);
    }

    /// <summary>
    /// Loads libmpi and joins the job (MPI_Init_thread, unless already initialized); a missing library is a
    /// <see cref="DllNotFoundException"/>, which <see cref="ProcessGroup.Join"/> turns into what to install.
    /// </summary>
    public static MpiCollective Initialize() => new(NativeLibrary.Load(LibraryPath));

    /// <summary>Where libmpi is loaded from: <see cref="LibraryEnvironmentVariable"/> when set (an Open MPI outside the loader's path), else <see cref="LibraryName"/>.</summary>
    public static string LibraryPath => Environment.GetEnvironmentVariable(LibraryEnvironmentVariable) is { Length: > 0 } path ? path : LibraryName;

    public const string LibraryEnvironmentVariable = "LMFORGE_LIBMPI";

    public int Rank { get; }

    public int Size { get; }

    public int LocalSize { get; }

    public string Description { get; }

    public void AllReduceSum(IBackend backend, Tensor buffer)
    {
        if (buffer.Length > int.MaxValue) throw new NotSupportedException($"all-reduce of {buffer.Length} floats: more than MPI's int count");
        int count = (int)buffer.Length;
        if (_staging.Length < count) _staging = GC.AllocateUninitializedArray<float>(count, pinned: true);
        var host = _staging.AsSpan(0, count);
        backend.CopyToHost(buffer, host);
        fixed (float* data = host) Check(_allreduce(InPlace, data, count, _float, _sum, _world), "MPI_Allreduce");
        backend.CopyFromHost(buffer, host);
    }

    public void AllReduceSum(Span<double> values)
    {
        fixed (double* data = values) Check(_allreduce(InPlace, data, values.Length, _double, _sum, _world), "MPI_Allreduce");
    }

    public void AllReduceMin(Span<ulong> values)
    {
        fixed (ulong* data = values) Check(_allreduce(InPlace, data, values.Length, _uint64, _min, _world), "MPI_Allreduce");
    }

    public void AllReduceMax(Span<ulong> values)
    {
        fixed (ulong* data = values) Check(_allreduce(InPlace, data, values.Length, _uint64, _max, _world), "MPI_Allreduce");
    }

    public void Abort(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        _abort(_world, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this only if it did
    }

    public void Dispose()
    {
        if (_finalized) return;
        _finalized = true;
        Check(_finalize(), "MPI_Finalize");
    }

    nint Export(string name) => NativeLibrary.TryGetExport(_library, name, out nint address) ? address
        : throw new EntryPointNotFoundException($"{LibraryName} has no {name}: it is not Open MPI's library (MPICH and others have another ABI); install Open MPI (sudo apt-get install openmpi-bin libopenmpi-dev)");

    static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error {code}");
    }
}
