// The rendering library of the SSR workload, pinned. The only place its
// versions are written: the Node contender's copy is installed from the
// specifiers below (contenders/node_ssr_deps.ts reads this file).
export { createContext, h } from "npm:preact@11.2.0";
export { useContext } from "npm:preact@11.2.0/hooks";
export { renderToString } from "npm:preact-render-to-string@6.8.2";
