// Stands in for react-devtools-core in the esbuild bundle: ink imports it only when DEV=true,
// and it is not installed. Connecting devtools is a no-op.
export default { initialize() {}, connectToDevTools() {} };
