// Vite's `?raw` imports: a fixture file's text, bundled into the test.
declare module "*?raw" {
  const text: string;
  export default text;
}
