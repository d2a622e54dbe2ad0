// Shared by the loader and the dialog chunk (each bundles its own copy).
// Property names ending in "_" are internal: the build shortens them (esbuild mangleProps).

// Where unsent reports wait in localStorage.
export const OUTBOX = "copydesk:outbox";
