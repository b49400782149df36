import CVDBKernels

/// The instruction set the distance kernels dispatched to on this CPU ("avx512", "avx2" or "scalar").
public var kernelISA: String { String(cString: vdb_kernels_isa()) }
