namespace LmForge.Tensors.Tests;

/// <summary>
/// Counts managed bytes allocated by an action on a plain thread. xunit's test threads carry a
/// SynchronizationContext whose wait notification allocates on every blocking wait, which no real caller pays.
/// </summary>
internal static class AllocationMeter
{
    public static long BytesAllocatedBy(Action warmUp, Action measured)
    {
        long bytes = -1;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                warmUp();
                long before = GC.GetAllocatedBytesForCurrentThread();
                measured();
                bytes = GC.GetAllocatedBytesForCurrentThread() - before;
            }
            catch (Exception exception)
            {
                failure = exception;
            }
        });
        thread.Start();
        thread.Join();
        if (failure != null) throw new InvalidOperationException("The measured action failed.", failure);
        return bytes;
    }
}
