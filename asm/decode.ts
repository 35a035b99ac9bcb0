// STUB — being written (capture + decode helper).
export function decodeInit(fragCapacity: i32): bool { return true; }
export function decodePacket(ptr: usize, capLen: i32, linktype: i32): bool { return false; }
