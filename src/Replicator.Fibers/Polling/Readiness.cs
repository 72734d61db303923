namespace Replicator.Fibers.Polling;

/// <summary>What a fiber waits for on a file descriptor, and what the poller saw.</summary>
[Flags]
internal enum Readiness : byte
{
    None = 0,
    Readable = 1,
    Writable = 2,
}
