// STUB — being written (flow table helper).
export function flowsInit(capacity: i32, outputRecords: i32): bool { return true; }
export function configureFlows(tcpInactivity: f64, udpInactivity: f64, icmpInactivity: f64, otherInactivity: f64, tcpCloseDelay: f64, activeTimeout: f64): void {}
export function flowsReady(now: f64): bool { return true; }
export function accountPacket(): void {}
export function flushAll(): bool { return true; }
export function outputPtr(): usize { return 0; }
export function outputCount(): i32 { return 0; }
export function outputCapacity(): i32 { return 0; }
export function outputClear(): void {}
