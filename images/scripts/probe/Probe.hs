-- The runtime probe: HTTPS requests through the curl binding, as Ganeti's daemons make them, while
-- big Integers are allocated and collected. Usage: probe URL REQUESTS [ROUNDS]
-- Each of ROUNDS rounds (default: REQUESTS) does the same Integer work; the first REQUESTS of them also make
-- a request. `probe URL 0 N` is the baseline: the same program and Integer work, without TLS.
module Main (main) where

import Control.Monad (forM_, unless, when)
import Network.Curl
import System.Environment (getArgs)
import System.Exit (ExitCode (..), exitWith)
import System.IO (hPutStrLn, stderr)
import System.Mem (performGC)

main :: IO ()
main = withCurlDo $ do
  args <- getArgs
  let (url, requests, rounds) = case args of
        [u, r] -> (u, read r, read r)
        [u, r, n] -> (u, read r, read n)
        _ -> error "usage: probe URL REQUESTS [ROUNDS]"
  forM_ [1 .. max requests rounds] $ \i -> do
    when (i <= requests) $ do
      (code, body) <- curlGetString url [CurlSSLVerifyPeer False, CurlSSLVerifyHost 0, CurlTimeout 20]
      unless (code == CurlOK && not (null body)) $ do
        hPutStrLn stderr ("probe: request " ++ show i ++ " failed: " ++ show code)
        exitWith (ExitFailure 2)
    let big = product [1 .. fromIntegral (300 + i)] :: Integer
    unless (big `mod` 7 == 0) $ exitWith (ExitFailure 3)
    performGC
  putStrLn ("probe: " ++ show (requests :: Int) ++ " requests ok, " ++ show (max requests rounds) ++ " rounds")
