-- The runtime probe: HTTPS requests through the curl binding, as Ganeti's daemons make them, while
-- big Integers are allocated and collected. Usage: probe URL REQUESTS
module Main (main) where

import Control.Monad (forM_, unless)
import Network.Curl
import System.Environment (getArgs)
import System.Exit (ExitCode (..), exitWith)
import System.IO (hPutStrLn, stderr)
import System.Mem (performGC)

main :: IO ()
main = withCurlDo $ do
  [url, countText] <- getArgs
  let count = read countText :: Int
  forM_ [1 .. count] $ \i -> do
    (code, body) <- curlGetString url [CurlSSLVerifyPeer False, CurlSSLVerifyHost 0, CurlTimeout 20]
    unless (code == CurlOK && not (null body)) $ do
      hPutStrLn stderr ("probe: request " ++ show i ++ " failed: " ++ show code)
      exitWith (ExitFailure 2)
    let big = product [1 .. fromIntegral (300 + i)] :: Integer
    unless (big `mod` 7 == 0) $ exitWith (ExitFailure 3)
    performGC
  putStrLn ("probe: " ++ show count ++ " requests ok")
